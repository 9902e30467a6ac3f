//! The KAFKA format: Kafka's primitive serializers (big-endian numbers, UTF-8 strings, raw bytes).

use crate::catalog::types::SqlType;
use crate::error::{Error, Result};
use base64::Engine;
use datafusion::arrow::array::{ArrayRef, AsArray};
use datafusion::arrow::datatypes::{Float64Type, Int32Type, Int64Type};
use serde_json::Value;

pub fn decode(bytes: &[u8], ty: &SqlType) -> Result<Value, String> {
    let wrong = |n: usize| format!("Size of data received by {ty} deserializer is not {n}");
    Ok(match ty {
        SqlType::Int => Value::from(i32::from_be_bytes(bytes.try_into().map_err(|_| wrong(4))?)),
        SqlType::Bigint => Value::from(i64::from_be_bytes(bytes.try_into().map_err(|_| wrong(8))?)),
        SqlType::Double => {
            let d = f64::from_be_bytes(bytes.try_into().map_err(|_| wrong(8))?);
            serde_json::Number::from_f64(d)
                .map(Value::Number)
                .unwrap_or(Value::Null)
        }
        SqlType::String => {
            Value::String(String::from_utf8(bytes.to_vec()).map_err(|e| e.to_string())?)
        }
        SqlType::Bytes => Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
        other => {
            return Err(format!(
                "The 'KAFKA' format does not support type '{other}'"
            ))
        }
    })
}

pub fn encode(a: &ArrayRef, row: usize, ty: &SqlType, out: &mut Vec<u8>) -> Result<()> {
    match ty {
        SqlType::Int => {
            out.extend_from_slice(&a.as_primitive::<Int32Type>().value(row).to_be_bytes())
        }
        SqlType::Bigint => {
            out.extend_from_slice(&a.as_primitive::<Int64Type>().value(row).to_be_bytes())
        }
        SqlType::Double => {
            out.extend_from_slice(&a.as_primitive::<Float64Type>().value(row).to_be_bytes())
        }
        SqlType::String => out.extend_from_slice(a.as_string::<i32>().value(row).as_bytes()),
        SqlType::Bytes => out.extend_from_slice(a.as_binary::<i32>().value(row)),
        other => {
            return Err(Error::generic(format!(
                "The 'KAFKA' format does not support type '{other}'"
            )))
        }
    }
    Ok(())
}

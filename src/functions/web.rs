//! URL functions: the parts of a URL (protocol, host, port, path, query, fragment, one query
//! parameter) and form encoding of parameters. A text that is not a URL gives NULL.

use super::row::{row_function, string, text, Arg};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::ScalarUDF;

/// A URL part as a STRING function.
fn part(
    name: &'static str,
    eval: fn(&[ScalarValue], &DataType) -> Result<ScalarValue>,
) -> ScalarUDF {
    row_function(name, &[&[Arg::Str]], |_| DataType::Utf8, eval)
}

pub fn udfs() -> Vec<ScalarUDF> {
    use Arg::*;
    vec![
        part("url_extract_protocol", |a, _| {
            Ok(string(parse(&a[0]).map(|u| u.scheme().to_string())))
        }),
        part("url_extract_host", |a, _| {
            Ok(string(
                parse(&a[0]).and_then(|u| u.host_str().map(str::to_string)),
            ))
        }),
        part("url_extract_path", |a, _| {
            Ok(string(parse(&a[0]).map(|u| {
                // As Java's URI: no path after the authority is an empty one, not `/`.
                let raw = text(&a[0]).unwrap_or_default();
                if has_path(raw) {
                    decoded(u.path())
                } else {
                    String::new()
                }
            })))
        }),
        part("url_extract_query", |a, _| {
            Ok(string(parse(&a[0]).and_then(|u| u.query().map(decoded))))
        }),
        part("url_extract_fragment", |a, _| {
            Ok(string(parse(&a[0]).and_then(|u| u.fragment().map(decoded))))
        }),
        row_function(
            "url_extract_port",
            &[&[Str]],
            |_| DataType::Int32,
            |a, _| {
                Ok(ScalarValue::Int32(
                    parse(&a[0]).and_then(|u| u.port()).map(i32::from),
                ))
            },
        ),
        row_function(
            "url_extract_parameter",
            &[&[Str, Str]],
            |_| DataType::Utf8,
            |a, _| {
                let (Some(u), Some(name)) = (parse(&a[0]), text(&a[1])) else {
                    return Ok(string(None));
                };
                // Java's decoded query (`+` stays `+`), split at `&`, then at the first `=`;
                // a name without `=` has the empty value.
                let Some(query) = u.query().map(decoded) else {
                    return Ok(string(None));
                };
                Ok(string(query.split('&').find_map(
                    |p| match p.split_once('=') {
                        Some((k, v)) if k == name => Some(v.to_string()),
                        None if p == name => Some(String::new()),
                        _ => None,
                    },
                )))
            },
        ),
        part("url_encode_param", |a, _| {
            Ok(string(text(&a[0]).map(|s| {
                url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
            })))
        }),
        part("url_decode_param", |a, _| {
            Ok(string(text(&a[0]).map(|s| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            })))
        }),
    ]
}

fn parse(v: &ScalarValue) -> Option<url::Url> {
    url::Url::parse(text(v)?).ok()
}

/// Percent-escapes decoded as Java's `URI` decodes them (UTF-8; `+` is not a space).
fn decoded(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Whether a URL has a path after its authority (`http://h/p`, not `http://h?q`).
fn has_path(raw: &str) -> bool {
    let Some((_, rest)) = raw.split_once("://") else {
        return true;
    };
    rest.find(['/', '?', '#'])
        .is_some_and(|at| rest.as_bytes()[at] == b'/')
}

#[cfg(test)]
mod tests {
    use crate::functions::row::testing::eval;

    #[test]
    fn url_parts() {
        let u = "'https://user@docs.example.com:8443/a/b%20c?q=1&r=x%2By#frag'";
        let f = |name: &str| eval(&format!("{name}({u})")).unwrap();
        assert_eq!(f("URL_EXTRACT_PROTOCOL"), r#""https""#);
        assert_eq!(f("URL_EXTRACT_HOST"), r#""docs.example.com""#);
        assert_eq!(f("URL_EXTRACT_PORT"), "8443");
        // Decoded, as Java's URI gives them.
        assert_eq!(f("URL_EXTRACT_PATH"), r#""/a/b c""#);
        assert_eq!(f("URL_EXTRACT_QUERY"), r#""q=1&r=x+y""#);
        assert_eq!(
            eval("URL_EXTRACT_PATH('http://www.test.com?query#fragment')").unwrap(),
            r#""""#
        );
        assert_eq!(
            eval("URL_EXTRACT_PARAMETER('http://h.com/?one=a&three', 'three')").unwrap(),
            r#""""#
        );
        assert_eq!(
            eval("URL_EXTRACT_PARAMETER('http://h.com/?a=b=c', 'a')").unwrap(),
            r#""b=c""#
        );
        assert_eq!(f("URL_EXTRACT_FRAGMENT"), r#""frag""#);
        assert_eq!(
            eval(&format!("URL_EXTRACT_PARAMETER({u}, 'r')")).unwrap(),
            r#""x+y""#
        );
        assert_eq!(
            eval(&format!("URL_EXTRACT_PARAMETER({u}, 'z')")).unwrap(),
            "null"
        );
        assert_eq!(eval("URL_EXTRACT_HOST('not a url')").unwrap(), "null");
        assert_eq!(eval("URL_EXTRACT_PORT('http://x.org/')").unwrap(), "null");
    }

    #[test]
    fn parameters_encode_and_decode() {
        assert_eq!(
            eval("URL_ENCODE_PARAM('a b&c=d/é')").unwrap(),
            r#""a+b%26c%3Dd%2F%C3%A9""#
        );
        assert_eq!(
            eval("URL_DECODE_PARAM('a+b%26c%3Dd%2F%C3%A9')").unwrap(),
            r#""a b&c=d/é""#
        );
        assert_eq!(eval("URL_DECODE_PARAM(NULL)").unwrap(), "null");
    }
}

//! Numbers: GEO_DISTANCE, the great-circle distance between two points (haversine), in
//! kilometres or miles; SIGN, as ksqlDB's INT.

use super::row::{double, row_function, text, Arg};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, ScalarValue};
use datafusion::logical_expr::ScalarUDF;

/// The Earth's radius as ksqlDB takes it.
const EARTH_KM: f64 = 6371.0;
const EARTH_MI: f64 = 3959.0;

pub fn udfs() -> Vec<ScalarUDF> {
    use Arg::*;
    vec![
        row_function(
            "sign",
            &[&[Double]],
            |_| DataType::Int32,
            |a, _| {
                Ok(ScalarValue::Int32(double(&a[0]).map(|x| {
                    if x > 0.0 {
                        1
                    } else if x < 0.0 {
                        -1
                    } else {
                        0
                    }
                })))
            },
        ),
        row_function(
            "geo_distance",
            &[
                &[Double, Double, Double, Double],
                &[Double, Double, Double, Double, Str],
            ],
            |_| DataType::Float64,
            |a, _| {
                let p: Option<Vec<f64>> = a[..4].iter().map(double).collect();
                let Some(p) = p else {
                    return Ok(ScalarValue::Float64(None));
                };
                if [p[0], p[2]].iter().any(|lat| !(-90.0..=90.0).contains(lat)) {
                    return exec_err!("valid latitude values for GeoDistance function are in the range of -90 to 90 decimal degrees");
                }
                if [p[1], p[3]]
                    .iter()
                    .any(|lon| !(-180.0..=180.0).contains(lon))
                {
                    return exec_err!("valid longitude values for GeoDistance function are in the range of -180 to +180 decimal degrees");
                }
                // No unit, or a blank one, is kilometres.
                let unit = a.get(4).and_then(text).unwrap_or("").trim().to_lowercase();
                let radius = match unit.as_str() {
                    "" | "km" | "kilometer" | "kilometers" | "kilometre" | "kilometres" => EARTH_KM,
                    "mi" | "mile" | "miles" => EARTH_MI,
                    _ => return exec_err!(
                        "GeoDistance function units parameter must be one of mi, mile, miles, km, kilometer, kilometers, kilometre or kilometres. Values are case-insensitive."
                    ),
                };
                let (lat1, lat2) = (p[0].to_radians(), p[2].to_radians());
                let dlat = (p[2] - p[0]).to_radians();
                let dlon = (p[3] - p[1]).to_radians();
                let h = (dlat / 2.0).sin().powi(2)
                    + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
                let c = 2.0 * h.sqrt().asin();
                Ok(ScalarValue::Float64(Some(radius * c)))
            },
        ),
    ]
}

#[cfg(test)]
mod tests {
    use crate::functions::row::testing::eval;

    #[test]
    fn signs() {
        assert_eq!(eval("SIGN(-2.5)").unwrap(), "-1");
        assert_eq!(eval("SIGN(0)").unwrap(), "0");
        assert_eq!(eval("SIGN(7)").unwrap(), "1");
        assert_eq!(eval("SIGN(NULL)").unwrap(), "null");
    }

    #[test]
    fn distances_in_km_and_miles() {
        let d = |args: &str| eval(&format!("GEO_DISTANCE({args})")).unwrap();
        // ksqlDB's values (its JVM's sines differ in the last bits).
        let near = |args: &str, want: f64| {
            let got: f64 = d(args).parse().unwrap();
            assert!(
                (got - want).abs() <= want * 1e-12,
                "{args}: {got} != {want}"
            );
        };
        near("37.4439, -122.1663, 51.5257, -0.1122", 8634.659796579544);
        near(
            "37.4439, -122.1663, 51.5257, -0.1122, 'KM'",
            8634.659796579544,
        );
        near(
            "37.4439, -122.1663, 51.5257, -0.1122, 'MI'",
            5365.659729188262,
        );
        near("-33.9323, 18.4197, -33.8666, 151.1", 11005.23304055582);
        near(
            "39.18660374, -76.73262144, 39.18660374, -76.73222145",
            0.03447366811448324,
        );
        assert_eq!(d("NULL, 1, 2, 3"), "null");
        assert_eq!(d("0, 0, 0, 1, ' Miles '"), d("0, 0, 0, 1, 'MI'"));
        assert_eq!(d("0, 0, 0, 1, ''"), d("0, 0, 0, 1"));
        assert_eq!(d("0, 0, 0, 1, NULL"), d("0, 0, 0, 1, 'kilometre'"));
        let err = |args: &str| eval(&format!("GEO_DISTANCE({args})")).unwrap_err();
        assert!(err("91, 0, 0, 0").contains("valid latitude values"));
        assert!(err("0, 0, 0, -181").contains("valid longitude values"));
        assert!(err("1, 0, 0, 0, 'parsecs'").contains("must be one of mi, mile, miles, km"));
    }
}

//! Table functions from a query file: EXPLODE makes a row per element, two of them are zipped,
//! and they are refused where ksqlDB refuses them.

mod common;

use common::{rows, run_file};

const INPUT: &str = "SET 'auto.offset.reset' = 'earliest';
CREATE STREAM orders (id INT KEY, items ARRAY<STRING>, qty ARRAY<INT>) WITH (kafka_topic='orders', value_format='JSON', partitions=1);
INSERT INTO orders (id, items, qty) VALUES (1, ARRAY['apple', 'pear'], ARRAY[3, 1, 7]);
INSERT INTO orders (id, items, qty) VALUES (2, ARRAY_REMOVE(ARRAY['x'], 'x'), ARRAY_REMOVE(ARRAY[0], 0));
INSERT INTO orders (id, items, qty) VALUES (3, ARRAY['fig'], NULL);
";

#[test]
fn explode_makes_a_row_per_element() {
    let dir = tempfile::tempdir().unwrap();
    let sql = format!(
        "{INPUT}CREATE STREAM lines AS SELECT id, EXPLODE(items) AS item, EXPLODE(qty) AS n, ARRAY_DISTINCT(EXPLODE(items)) AS d FROM orders;"
    );
    let (ok, lines, _) = run_file(&dir.path().join("a"), &sql);
    assert!(!ok, "a table function inside another call is refused");
    let err = lines.iter().find(|l| l["@type"] == "error").unwrap();
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("must be the outermost call"),
        "{err}"
    );
    let sql = format!(
        "{INPUT}CREATE STREAM lines AS SELECT id, EXPLODE(items) AS item, EXPLODE(qty) AS n FROM orders;
SELECT * FROM lines EMIT CHANGES LIMIT 4;
DESCRIBE lines;"
    );
    let (ok, lines, err) = run_file(&dir.path().join("b"), &sql);
    assert!(ok, "{err}");
    let got: Vec<String> = rows(&lines).iter().map(|r| r.to_string()).collect();
    assert_eq!(
        got,
        [
            r#"[1,"apple",3]"#,
            r#"[1,"pear",1]"#,
            r#"[1,null,7]"#,
            r#"[3,"fig",null]"#
        ]
    );
    // The columns have the elements' types.
    let described = lines
        .iter()
        .find(|l| l["@type"] == "sourceDescription")
        .unwrap();
    let fields = described["sourceDescription"]["fields"].to_string();
    assert!(
        fields.contains(r#""name":"ITEM","schema":{"type":"STRING""#),
        "{fields}"
    );
    assert!(
        fields.contains(r#""name":"N","schema":{"type":"INTEGER""#),
        "{fields}"
    );
    let (ok, lines, _) = run_file(
        &dir.path().join("c"),
        &format!("{INPUT}SELECT id FROM orders WHERE EXPLODE(qty) IS NOT NULL EMIT CHANGES;"),
    );
    assert!(!ok);
    let err = lines.iter().find(|l| l["@type"] == "error").unwrap();
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("cannot be used in WHERE"),
        "{err}"
    );
}

/// A field of each exploded struct (`EXPLODE(a)->F`), and ksqlDB's refusals: EXPLODE of a
/// MAP, and table functions with aggregations.
#[test]
fn explode_fields_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let sql = "SET 'auto.offset.reset' = 'earliest';
CREATE STREAM baskets (id INT KEY, items ARRAY<STRUCT<name STRING, qty INT>>, tags MAP<STRING, INT>) WITH (kafka_topic='baskets', value_format='JSON', partitions=1);
INSERT INTO baskets (id, items, tags) VALUES (1, ARRAY[STRUCT(name := 'fig', qty := 2), STRUCT(name := 'kiwi', qty := 5)], MAP('a' := 1));
SELECT id, EXPLODE(items)->name AS name, EXPLODE(items)->qty AS qty FROM baskets EMIT CHANGES LIMIT 2;
";
    let (ok, lines, err) = run_file(&dir.path().join("a"), sql);
    assert!(ok, "{err}");
    let got: Vec<String> = rows(&lines).iter().map(|r| r.to_string()).collect();
    assert_eq!(got, [r#"[1,"fig",2]"#, r#"[1,"kiwi",5]"#]);
    for (i, (statement, error)) in [
        (
            "SELECT id, EXPLODE(tags) FROM baskets EMIT CHANGES;",
            "Function 'explode' does not accept parameters (MAP<STRING, INTEGER>).",
        ),
        (
            "SELECT id, EXPLODE(items), COUNT(*) FROM baskets GROUP BY id EMIT CHANGES;",
            "Table functions cannot be used with aggregations.",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let sql = format!(
            "CREATE STREAM baskets (id INT KEY, items ARRAY<STRUCT<name STRING, qty INT>>, tags MAP<STRING, INT>) WITH (kafka_topic='baskets', value_format='JSON', partitions=1);
{statement}"
        );
        let (ok, lines, _) = run_file(&dir.path().join(i.to_string()), &sql);
        assert!(!ok, "{statement}");
        let text = serde_json::to_string(&lines).unwrap();
        assert!(text.contains(error), "{statement}: {text}");
    }
}

//! The mapping table: any text parses or is refused with row errors, never a panic; what parses
//! survives `to_csv` and parsing again unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mlc_core::mapping::{parse_csv, parse_json, to_csv};

fuzz_target!(|text: &str| {
    let dims = vec!["CCT".to_string(), "DEP".to_string()];
    let _ = parse_json(text, &dims);
    if let Ok(rows) = parse_csv(text, &dims) {
        let csv = to_csv(&rows);
        let again = parse_csv(&csv, &dims)
            .unwrap_or_else(|e| panic!("to_csv wrote what parse_csv refuses: {e:?}\n{csv}"));
        assert_eq!(rows, again, "round trip changed the rows\n{csv}");
    }
});

#![no_main]
// The JSON, DELIMITED and KAFKA decoders on any record (see `brooklet::fuzz::Decoders`).
use std::sync::OnceLock;
static DECODERS: OnceLock<brooklet::fuzz::Decoders> = OnceLock::new();
libfuzzer_sys::fuzz_target!(|data: &[u8]| DECODERS.get_or_init(Default::default).decode(data));

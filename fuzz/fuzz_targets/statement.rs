#![no_main]
// The statement parser on any text (see `brooklet::fuzz::statement`).
libfuzzer_sys::fuzz_target!(|data: &[u8]| brooklet::fuzz::statement(data));

#![no_main]
// The log's recovery and reads on any segment bytes (see `brooklet::fuzz::log_segment`).
libfuzzer_sys::fuzz_target!(|data: &[u8]| brooklet::fuzz::log_segment(data));

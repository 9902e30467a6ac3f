#![no_main]
// The QTT loader on any file text (see `brooklet::fuzz::qtt`).
libfuzzer_sys::fuzz_target!(|data: &[u8]| brooklet::fuzz::qtt(data));

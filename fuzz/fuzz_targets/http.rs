#![no_main]
// The HTTP service on any request body (see `brooklet::fuzz::Http`).
use std::sync::OnceLock;
static HTTP: OnceLock<brooklet::fuzz::Http> = OnceLock::new();
libfuzzer_sys::fuzz_target!(|data: &[u8]| HTTP.get_or_init(Default::default).request(data));

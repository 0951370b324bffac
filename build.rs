//! Decides when the tests are compiled which of their variants can run here, so a test that
//! cannot run is reported as ignored, with its reason, and never as passed.
//! - `balas_test_postgres`: `BALAS_TEST_POSTGRES_URL` is set, or `CI=true` (where a missing
//!   database fails the run rather than skipping it).
//! - `balas_test_browser`: chromedriver and a Chromium are on PATH, or `CI=true`.
//! - `balas_test_s3`: `BALAS_TEST_S3_URL` (an S3-compatible server) is set, or `CI=true`.
fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    for variable in ["BALAS_TEST_POSTGRES_URL", "BALAS_TEST_S3_URL", "CI", "PATH"] {
        println!("cargo::rerun-if-env-changed={variable}");
    }
    println!("cargo::rustc-check-cfg=cfg(balas_test_postgres)");
    println!("cargo::rustc-check-cfg=cfg(balas_test_browser)");
    println!("cargo::rustc-check-cfg=cfg(balas_test_s3)");
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if ci || std::env::var("BALAS_TEST_POSTGRES_URL").is_ok_and(|v| !v.trim().is_empty()) {
        println!("cargo::rustc-cfg=balas_test_postgres");
    }
    if ci || std::env::var("BALAS_TEST_S3_URL").is_ok_and(|v| !v.trim().is_empty()) {
        println!("cargo::rustc-cfg=balas_test_s3");
    }
    let on_path = |name: &str| {
        std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
    };
    let browser = ["chromium", "chromium-browser", "google-chrome"].iter().any(|b| on_path(b));
    if ci || (on_path("chromedriver") && browser) {
        println!("cargo::rustc-cfg=balas_test_browser");
    }
}

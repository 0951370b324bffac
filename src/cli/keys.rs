//! `balas keys rotate`: re-wraps data keys under the new primary master key with a progress
//! bar, then proves the old key is no longer needed.
use std::ops::ControlFlow;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Keys;
use crate::rotation;
use crate::store::Store;

pub async fn rotate(store: &dyn Store, keys: &Keys) -> anyhow::Result<ExitCode> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("re-wrapping data keys {bar:40} {pos}/{len} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut show = |p: rotation::Progress| {
        bar.set_length(p.total);
        bar.set_position(p.done);
        ControlFlow::Continue(())
    };
    let run = rotation::rotate(store, &keys.vault, &mut show).await?;
    bar.finish_and_clear();
    println!(
        "re-wrapped {} data keys across {} tenants ({} already under the new key, {} changed by a concurrent writer)",
        run.rewrapped, run.tenants, run.already_current, run.skipped_concurrent
    );
    let check = rotation::verify(store, &keys.vault).await?;
    if check.failures.is_empty() && run.skipped_concurrent == 0 {
        println!(
            "verified: all {} keys open with the first key of BALAS_FERNET_KEYS alone; the other keys can be removed",
            check.keys_checked
        );
        return Ok(ExitCode::SUCCESS);
    }
    for failure in check.failures.iter().take(20) {
        eprintln!("still needs an old key: {failure}");
    }
    eprintln!("not done: run `balas keys rotate` again (it resumes) and keep the old keys until it verifies");
    Ok(ExitCode::FAILURE)
}

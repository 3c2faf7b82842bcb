//! Ctrl-C (SIGINT) and SIGTERM while a command changes AWS. The first asks the run to wind down:
//! no new change starts, the changes in flight get [`GRACE`] to finish, waits stop at once (ECS
//! goes on with a deployment; the next run follows it), the lease is released, and the command
//! exits [`EXIT_CODE`] saying what was in flight and what resumes. A second exits at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::Notify;

/// The exit code of an interrupted run: 128 + SIGINT, as shells report a Ctrl-C.
pub const EXIT_CODE: u8 = 130;

/// How long the changes in flight may take to finish once the run is interrupted.
pub const GRACE: Duration = Duration::from_secs(30);

static REQUESTED: AtomicBool = AtomicBool::new(false);

fn notify() -> &'static Notify {
    static NOTIFY: OnceLock<Notify> = OnceLock::new();
    NOTIFY.get_or_init(Notify::new)
}

/// Listen for SIGINT and SIGTERM from now on (commands that change AWS call this first).
pub fn install() -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::spawn(move || {
        for _ in signals.forever() {
            if REQUESTED.swap(true, Ordering::SeqCst) {
                crate::output::interrupted_twice();
                std::process::exit(EXIT_CODE.into());
            }
            crate::output::interrupting(GRACE);
            notify().notify_waiters();
        }
    });
    Ok(())
}

/// Whether the run was asked to stop.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Resolves once the run is asked to stop.
pub async fn asked() {
    loop {
        // Created before the check: a request between the two still wakes it.
        let woken = notify().notified();
        if requested() {
            return;
        }
        woken.await;
    }
}

/// Resolves [`GRACE`] after the run is asked to stop: the end of in-flight work.
pub async fn grace_over() {
    asked().await;
    tokio::time::sleep(GRACE).await;
}

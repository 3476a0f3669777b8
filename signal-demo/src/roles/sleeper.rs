//! Role `sleeper` (step 4): a child that lives until a signal ends it.

/// Wait until a signal ends us.
pub fn run() -> ! {
    loop {
        nix::unistd::pause();
    }
}

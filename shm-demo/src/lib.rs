//! POSIX shared memory as a small library: the sensor object of the lecture (a named `shm_open`
//! object with a header that says what is inside), the single-producer single-consumer rings
//! that `compare` measures, and their rows of the lecture's design-space table; also the owner
//! of the tour's named objects, the frame and socket of the memfd handoff, and the ways
//! `compare` times making shared memory (`setups`). The narrated tour is `src/main.rs`.
//!
//! Shared memory is the one mechanism where the kernel does not mediate each access, so every
//! byte in a mapping may change under us at any moment, written by another process we do not
//! control. The code here only ever touches shared memory through atomics or through plain bytes
//! (`u8`, where every bit pattern is valid), and it never trusts an index it reads from there.

mod diagnosis;
pub mod mapping;
pub mod memfd_frame;
pub mod memfd_socket;
pub mod ring;
pub mod sensor;
pub mod setups;
mod sigbus;
mod slots;
pub mod tour_object;
mod waiting;
pub mod zero_copy;

use plumbing::design::Row;

pub use mapping::SharedMapping;
pub use ring::{Coordination, End, MAX_MSG_SIZE, blocking_duplex, spin_duplex};
pub use sensor::{
    HEADER_LEN, LayoutError, OBJECT_LEN, SensorObject, SensorReading, ShmName, decode_header,
    valid_header,
};
pub use waiting::{Liveness, liveness_pair};

/// The row for the ring whose waiting side spins on the atomics.
pub const SPIN_ROW: Row = Row {
    data: "shared region, no kernel",
    structure: "byte ring (SPSC)",
    direction: "two-way (a ring each way)",
    naming: "/dev/shm name or fork",
    coordination: "process spins on atomics",
    persistence: "until shm_unlink / reboot",
};

/// The row for the zero-copy slots: the message is written and read where it lies in the
/// shared region, and the slot itself goes back as the answer.
pub const ZERO_COPY_ROW: Row = Row {
    data: "shared region, in place",
    structure: "slots lent and returned",
    direction: "two-way (slot goes back)",
    naming: "/dev/shm name or fork",
    coordination: "process spins on atomics",
    persistence: "until shm_unlink / reboot",
};

/// The row for the ring whose waiting side sleeps on a futex in the shared mapping.
pub const BLOCKING_ROW: Row = Row {
    data: "shared region, no kernel",
    structure: "byte ring (SPSC)",
    direction: "two-way (a ring each way)",
    naming: "/dev/shm name or fork",
    coordination: "process: atomics + futex",
    persistence: "until shm_unlink / reboot",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn design_rows_fit_their_column() {
        for row in [SPIN_ROW, ZERO_COPY_ROW, BLOCKING_ROW] {
            assert!(row.fits(), "{row:?}");
        }
    }
}

//! The Task wire format: one Task as one message, checked on the way in.

use std::fmt;

/// A unit of work for a worker, as in the lecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub task_type: u32,
    pub payload: String,
}

/// Bytes before the payload in an encoded Task.
pub const TASK_HEADER_LEN: usize = 9;
/// The format version this code writes and accepts.
pub const TASK_VERSION: u8 = 1;

/// Why a message is not a Task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskError {
    /// Fewer bytes than the 9-byte header.
    Short(usize),
    /// A version byte other than 1 (another program's message, or a newer format).
    Version(u8),
    /// The header's payload length does not match the bytes that came after it.
    Length { declared: u32, actual: usize },
    /// The payload is not UTF-8.
    NotUtf8,
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Short(n) => write!(
                f,
                "{n}-byte message is shorter than the {TASK_HEADER_LEN}-byte Task header"
            ),
            TaskError::Version(v) => write!(f, "Task format version {v}, expected {TASK_VERSION}"),
            TaskError::Length { declared, actual } => {
                write!(
                    f,
                    "header says {declared} payload bytes, message has {actual}"
                )
            }
            TaskError::NotUtf8 => write!(f, "Task payload is not UTF-8"),
        }
    }
}

impl std::error::Error for TaskError {}

impl Task {
    /// One Task as one message (the priority travels beside it, in the queue):
    ///
    /// | bytes   | field                                        |
    /// |---------|----------------------------------------------|
    /// | 0       | format version, 1                            |
    /// | 1..5    | task_type, u32 little-endian                 |
    /// | 5..9    | payload length N, u32 little-endian          |
    /// | 9..9+N  | payload, UTF-8; the message is exactly 9+N   |
    ///
    /// The queue already keeps the message length; repeating it in the header is what lets
    /// `decode` tell a truncated or foreign message from a Task.
    pub fn encode(&self) -> Vec<u8> {
        let payload = self.payload.as_bytes();
        let len = u32::try_from(payload.len()).unwrap_or(u32::MAX); // any queue is far smaller
        let mut msg = Vec::with_capacity(TASK_HEADER_LEN + payload.len());
        msg.push(TASK_VERSION);
        msg.extend_from_slice(&self.task_type.to_le_bytes());
        msg.extend_from_slice(&len.to_le_bytes());
        msg.extend_from_slice(payload);
        msg
    }

    /// Checks and decodes one message. Allocates at most the message's own length.
    pub fn decode(msg: &[u8]) -> Result<Task, TaskError> {
        let Some((header, payload)) = msg.split_at_checked(TASK_HEADER_LEN) else {
            return Err(TaskError::Short(msg.len()));
        };
        if header[0] != TASK_VERSION {
            return Err(TaskError::Version(header[0]));
        }
        let word = |at: usize| {
            u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
        };
        let (task_type, declared) = (word(1), word(5));
        if usize::try_from(declared) != Ok(payload.len()) {
            return Err(TaskError::Length {
                declared,
                actual: payload.len(),
            });
        }
        let payload = std::str::from_utf8(payload).map_err(|_| TaskError::NotUtf8)?;
        Ok(Task {
            task_type,
            payload: payload.to_owned(),
        })
    }
}

//! The processes the tour's steps start, which a user can also run by hand in two terminals.

// `serve`: the echo server, for every address family
pub mod serve;
// `client`: send messages to an echo server, print the echoes
pub mod client;
// `fd-recv`: receive one open descriptor, read through it, reply
pub mod fd_recv;
// `fd-send`: open a file, pass its descriptor to `fd-recv`
pub mod fd_send;

//! Lessons on coroutines: generators, explicit switching, tokio tasks, and an async server.

use super::{num, run};

//! Lessons on the classic server classes: Python's socketserver shown as netkit models and handlers.

use super::{num, run};

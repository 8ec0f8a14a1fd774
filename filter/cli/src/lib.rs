//! The admin's checker: the plugin's own core run natively on config files, so its answers are
//! the plugin's answers. `main.rs` is only the command line around these modules.

pub mod diff;
pub mod input;
pub mod outcome;
pub mod simulate;
pub mod table;
pub mod validate;
pub mod which;

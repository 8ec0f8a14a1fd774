//! The admin's checker: the plugin's own core run natively on config files, so its answers are
//! the plugin's answers. `command_line` is the command line around these modules.

pub mod command_line;
pub mod console;
pub mod diff;
pub mod input;
pub mod outcome;
pub mod schedule;
pub mod simulate;
pub mod table;
pub mod validate;
pub mod which;

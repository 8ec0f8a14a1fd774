//! What a command hands back to `main`: both renderings and the exit code.

use serde_json::Value;

pub const OK: i32 = 0;
/// An invalid config, or a check that failed.
pub const FAILED: i32 = 1;

pub struct Outcome {
    pub human: String,
    pub json: Value,
    pub code: i32,
}

impl Outcome {
    pub fn ok(human: String, json: Value) -> Outcome {
        Outcome {
            human,
            json,
            code: OK,
        }
    }

    /// Renders the outcome as the command line asked.
    pub fn render(&self, json: bool) -> String {
        if json {
            let mut text = serde_json::to_string_pretty(&self.json).unwrap_or_default();
            text.push('\n');
            text
        } else {
            self.human.clone()
        }
    }
}

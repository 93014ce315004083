//! An agent's reply as the conversation keeps it: its text and tool calls in the order they
//! happened, folded from the run's events.

use agents::{Event, ToolStatus, Usage};
use serde::{Deserialize, Serialize};

/// One piece of a reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    Text {
        text: String,
    },
    Tool {
        id: String,
        name: String,
        summary: String,
        input: serde_json::Value,
        /// `None` while the tool runs.
        #[serde(default)]
        output: Option<String>,
        #[serde(default)]
        status: Option<ToolStatus>,
    },
    /// Output the agent printed that was not one of its events.
    Output {
        text: String,
    },
    Error {
        message: String,
    },
}

/// A reply being folded together, event by event.
#[derive(Clone, Debug, Default)]
pub struct Reply {
    pub blocks: Vec<Block>,
    pub usage: Option<Usage>,
    pub session: Option<String>,
    /// Set by the agent's last event: whether it failed, and its final words.
    pub done: Option<(bool, Option<String>)>,
}

impl Reply {
    pub fn push(&mut self, event: &Event) {
        match event {
            Event::Session { id } => self.session = Some(id.clone()),
            Event::Text { text } => match self.blocks.last_mut() {
                Some(Block::Text { text: last }) => {
                    last.push_str("\n\n");
                    last.push_str(text);
                }
                _ => self.blocks.push(Block::Text { text: text.clone() }),
            },
            Event::ToolStarted { id, name, summary, input } => self.blocks.push(Block::Tool {
                id: id.clone(),
                name: name.clone(),
                summary: summary.clone(),
                input: input.clone(),
                output: None,
                status: None,
            }),
            Event::ToolFinished { id, name, summary, input, output, status } => {
                let started = self.blocks.iter_mut().rev().find_map(|block| match block {
                    Block::Tool { id: started, output, status, .. } if started == id => {
                        Some((output, status))
                    }
                    _ => None,
                });
                match started {
                    Some((slot, state)) => {
                        *slot = Some(output.clone());
                        *state = Some(*status);
                    }
                    // Some agents report a tool only once it is over.
                    None => self.blocks.push(Block::Tool {
                        id: id.clone(),
                        name: name.clone(),
                        summary: summary.clone(),
                        input: input.clone(),
                        output: Some(output.clone()),
                        status: Some(*status),
                    }),
                }
            }
            Event::Output { text } => match self.blocks.last_mut() {
                Some(Block::Output { text: last }) => {
                    last.push('\n');
                    last.push_str(text);
                }
                _ => self.blocks.push(Block::Output { text: text.clone() }),
            },
            Event::Usage(usage) => self.usage = Some(usage.clone()),
            Event::Error { message } => self.blocks.push(Block::Error { message: message.clone() }),
            Event::Done { is_error, result } => self.done = Some((*is_error, result.clone())),
        }
    }

    /// The reply's words, for searching and for loop mode's check.
    pub fn text(&self) -> String {
        let texts: Vec<&str> = self
            .blocks
            .iter()
            .filter_map(|block| match block {
                Block::Text { text } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        texts.join("\n\n")
    }

    /// The last error the agent reported, for a run that failed.
    pub fn last_error(&self) -> Option<String> {
        self.blocks.iter().rev().find_map(|block| match block {
            Block::Error { message } => Some(message.clone()),
            _ => None,
        })
    }

    /// A tool still marked as running when the run is over ends as failed.
    pub fn close_open_tools(&mut self) {
        for block in &mut self.blocks {
            if let Block::Tool { output, status: status @ None, .. } = block {
                *status = Some(ToolStatus::Failed);
                output.get_or_insert_with(|| "(the run ended before this tool finished)".into());
            }
        }
    }
}

/// Whether a loop iteration's reply says the work is finished: exactly "finished" in any
/// case, or "FINISHED" in capitals anywhere.
pub fn says_finished(text: &str) -> bool {
    let trimmed = text.trim().trim_end_matches(['.', '!']);
    trimmed.eq_ignore_ascii_case("finished") || text.contains("FINISHED")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_is_recognised_alone_in_any_case_or_in_capitals_anywhere() {
        assert!(says_finished("finished"));
        assert!(says_finished("  Finished.\n"));
        assert!(says_finished("All done. FINISHED"));
        assert!(!says_finished("I have not finished yet"));
        assert!(!says_finished("Still working (step 1)"));
    }

    #[test]
    fn a_tool_result_fills_in_the_card_its_start_opened() {
        let mut reply = Reply::default();
        let input = serde_json::json!({"command": "ls"});
        reply.push(&Event::Text { text: "Looking.".into() });
        reply.push(&Event::ToolStarted {
            id: "t1".into(),
            name: "Bash".into(),
            summary: "ls".into(),
            input: input.clone(),
        });
        reply.push(&Event::ToolFinished {
            id: "t1".into(),
            name: "Bash".into(),
            summary: "ls".into(),
            input,
            output: "README.md".into(),
            status: ToolStatus::Completed,
        });
        reply.push(&Event::Text { text: "Done.".into() });
        assert_eq!(reply.blocks.len(), 3);
        assert!(matches!(
            &reply.blocks[1],
            Block::Tool { output: Some(o), status: Some(ToolStatus::Completed), .. } if o == "README.md"
        ));
        assert_eq!(reply.text(), "Looking.\n\nDone.");
    }
}

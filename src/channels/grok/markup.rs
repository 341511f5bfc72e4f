//! Cleans the markup grok.com embeds in its text, as the text streams.
//!
//! Two kinds of block arrive inside `token`s and `modelResponse.message` (fact sheet §3.4):
//! tool usage cards (`<xai:tool_usage_card>…</xai:tool_usage_card>`, sometimes missing the
//! leading `<`, sometimes preceded by `<rolloutId>…</rolloutId>`) and render tags
//! (`<grok:render …>…</grok:render>`). Tool cards become one short readable line, or vanish
//! ([`ToolCards`]); an inline citation becomes a markdown link when its card's URL is known;
//! every other render tag and every rollout id vanish.
//!
//! **Streaming**: text is released as soon as it cannot be the start of a block. Only an
//! unfinished opening tag (at most the length of the longest opener) is held back between
//! chunks, or the inside of a block until it closes. A block still open when the text ends is
//! dropped. Matching is ASCII case-insensitive.

use std::collections::HashMap;

/// What tool usage cards turn into.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolCards {
    /// One line such as `[WebSearch] weather in Paris`.
    #[default]
    Lines,
    /// Nothing.
    Hide,
}

/// The blocks recognised, by their opening and closing tags (lower case).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Block {
    ToolCard,
    Render,
    Rollout,
}

const OPENERS: [(&str, Block); 4] = [
    ("<xai:tool_usage_card", Block::ToolCard),
    ("<grok:render", Block::Render),
    ("<rolloutid>", Block::Rollout),
    // The card without its `<`, as grok sometimes sends it.
    ("xai:tool_usage_card>", Block::ToolCard),
];

impl Block {
    fn closer(self) -> &'static str {
        match self {
            Block::ToolCard => "</xai:tool_usage_card>",
            Block::Render => "</grok:render>",
            Block::Rollout => "</rolloutid>",
        }
    }
}

/// A block longer than this is dropped unread rather than buffered further.
const MAX_BLOCK: usize = 256 * 1024;

/// The streaming cleaner of one text channel (answer or reasoning).
#[derive(Debug, Default)]
pub struct Cleaner {
    mode: ToolCards,
    /// Text not yet released: an unfinished opener, or an open block.
    held: String,
    inside: Option<Block>,
    /// Citation numbers handed out, by URL.
    cited: Vec<String>,
    /// Did the text released so far end a line (or is there none)? A tool line starts on its own.
    mid_line: bool,
}

impl Cleaner {
    pub fn new(mode: ToolCards) -> Cleaner {
        Cleaner { mode, ..Cleaner::default() }
    }

    /// Cleans the next piece of text; what can be released is appended to `out`.
    /// `cards` maps render card ids to the URLs of their citation cards.
    pub fn push(&mut self, text: &str, cards: &HashMap<String, String>, out: &mut String) {
        let start = out.len();
        if self.held.is_empty() && self.inside.is_none() && !could_hold(text) {
            out.push_str(text);
        } else {
            self.held.push_str(text);
            self.drain(cards, out, start);
        }
        if out.len() > start {
            self.mid_line = !out.ends_with('\n');
        }
    }

    /// The text ended: an unfinished opener is plain text after all; an open block is dropped.
    pub fn finish(&mut self, out: &mut String) {
        if self.inside.is_none() {
            out.push_str(&self.held);
        }
        self.held.clear();
        self.inside = None;
    }

    /// `out[start..]` is what this push released so far.
    fn drain(&mut self, cards: &HashMap<String, String>, out: &mut String, start: usize) {
        let mut pos = 0;
        loop {
            let rest = &self.held[pos..];
            match self.inside {
                Some(block) => {
                    let Some(end) = find_ci(rest, block.closer()) else {
                        if rest.len() > MAX_BLOCK {
                            self.inside = None;
                            pos = self.held.len();
                        }
                        break;
                    };
                    let body = &rest[..end];
                    let mid_line = if out.len() > start { !out.ends_with('\n') } else { self.mid_line };
                    render(self.mode, &mut self.cited, mid_line, block, body, cards, out);
                    pos += end + block.closer().len();
                    self.inside = None;
                }
                None => match next_opener(rest) {
                    Opener::Found { at, block, len } => {
                        out.push_str(&rest[..at]);
                        pos += at + len;
                        self.inside = Some(block);
                    }
                    Opener::Partial { at } => {
                        out.push_str(&rest[..at]);
                        pos += at;
                        break;
                    }
                    Opener::None => {
                        out.push_str(rest);
                        pos = self.held.len();
                        break;
                    }
                },
            }
        }
        self.held.drain(..pos);
    }
}

/// Writes what a closed block stands for; `body` is what lies between its opener and its closer.
fn render(
    mode: ToolCards,
    cited: &mut Vec<String>,
    mid_line: bool,
    block: Block,
    body: &str,
    cards: &HashMap<String, String>,
    out: &mut String,
) {
    match block {
        Block::Rollout => {}
        Block::ToolCard => {
            if mode == ToolCards::Lines
                && let Some(line) = tool_line(body)
            {
                if mid_line {
                    out.push('\n');
                }
                out.push_str(&line);
                out.push('\n');
            }
        }
        Block::Render => {
            // `body` starts with the rest of the opening tag: ` card_id="x" type="…">…`.
            let tag = body.split('>').next().unwrap_or("");
            if attribute(tag, "type") == Some("render_inline_citation")
                && let Some(url) = attribute(tag, "card_id").and_then(|id| cards.get(id))
            {
                let n = match cited.iter().position(|u| u == url) {
                    Some(i) => i + 1,
                    None => {
                        cited.push(url.clone());
                        cited.len()
                    }
                };
                out.push_str(&format!(" [[{n}]]({url})"));
            }
        }
    }
}

enum Opener {
    Found {
        at: usize,
        block: Block,
        len: usize,
    },
    /// The text ends with what may become an opener, starting at `at`.
    Partial {
        at: usize,
    },
    None,
}

/// Cheap pre-check: can this text start or continue a block?
fn could_hold(text: &str) -> bool {
    memchr::memchr(b'<', text.as_bytes()).is_some() || memchr::memchr(b':', text.as_bytes()).is_some() || {
        // A bare `x`, `xa`, `xai` at the end may begin the `<`-less card opener.
        let bytes = text.as_bytes();
        bytes[bytes.len().saturating_sub(3)..].iter().any(|b| b.eq_ignore_ascii_case(&b'x'))
    }
}

fn next_opener(text: &str) -> Opener {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i].to_ascii_lowercase();
        if c == b'<' || c == b'x' {
            let rest = &text[i..];
            for (opener, block) in OPENERS {
                if rest.len() >= opener.len() {
                    if rest.as_bytes()[..opener.len()].eq_ignore_ascii_case(opener.as_bytes()) {
                        return Opener::Found { at: i, block, len: opener.len() };
                    }
                } else if opener.as_bytes()[..rest.len()].eq_ignore_ascii_case(rest.as_bytes()) {
                    return Opener::Partial { at: i };
                }
            }
        }
        i += 1;
    }
    Opener::None
}

/// Byte offset of `needle` (lower case ASCII) in `hay`, ignoring ASCII case.
fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    memchr::memchr_iter(b'<', h)
        .find(|&i| h.len() - i >= n.len() && h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// The value of `name="value"` in a tag's attributes.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = tag;
    while let Some(at) = rest.find(name) {
        let after = &rest[at + name.len()..];
        let boundary = at == 0 || rest.as_bytes()[at - 1].is_ascii_whitespace();
        if boundary && let Some(value) = after.strip_prefix("=\"") {
            return value.split('"').next();
        }
        rest = after;
    }
    None
}

/// The text of the first `<name>…</name>` element in a card (CDATA unwrapped).
fn element<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = find_ci(body, &open)? + open.len();
    let end = start + find_ci(&body[start..], &close)?;
    let text = body[start..end].trim();
    Some(text.strip_prefix("<![CDATA[").and_then(|t| t.strip_suffix("]]>")).unwrap_or(text).trim())
}

/// One line for a tool usage card: `[WebSearch] query`, `[Browse] url`, or `[name] args`.
fn tool_line(body: &str) -> Option<String> {
    let name = element(body, "xai:tool_name")?;
    let args = element(body, "xai:tool_args").unwrap_or("");
    let parsed: Option<serde_json::Value> = serde_json::from_str(args).ok();
    let field = |keys: &[&str]| -> Option<String> {
        let object = parsed.as_ref()?.as_object()?;
        keys.iter().find_map(|k| object.get(*k)?.as_str().map(str::to_string))
    };
    let lower = name.to_ascii_lowercase();
    let (label, detail) = match lower.as_str() {
        "web_search" => ("WebSearch", field(&["query", "q"])),
        "x_search" | "x_keyword_search" | "x_semantic_search" => ("XSearch", field(&["query", "q"])),
        "browse_page" => ("Browse", field(&["url"])),
        "search_images" | "image_search" => {
            ("SearchImage", field(&["image_description", "description", "query"]))
        }
        "code_execution" => ("CodeExecution", None),
        _ => ("", None),
    };
    let line = if label.is_empty() {
        let args = args.split_whitespace().collect::<Vec<_>>().join(" ");
        if args.is_empty() { format!("[{name}]") } else { format!("[{name}] {args}") }
    } else {
        match detail {
            Some(d) if !d.trim().is_empty() => format!("[{label}] {}", d.trim()),
            _ => format!("[{label}]"),
        }
    };
    Some(line)
}

/// Cleans a whole text at once.
#[cfg(test)]
fn clean(text: &str, mode: ToolCards, cards: &HashMap<String, String>) -> String {
    let mut cleaner = Cleaner::new(mode);
    let mut out = String::with_capacity(text.len());
    cleaner.push(text, cards, &mut out);
    cleaner.finish(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(pieces: &[&str], mode: ToolCards, cards: &HashMap<String, String>) -> String {
        let mut c = Cleaner::new(mode);
        let mut out = String::new();
        for p in pieces {
            c.push(p, cards, &mut out);
        }
        c.finish(&mut out);
        out
    }

    const CARD: &str = "<xai:tool_usage_card><xai:tool_usage_card_id>27b9</xai:tool_usage_card_id><xai:tool_name>web_search</xai:tool_name><xai:tool_args><![CDATA[{\"query\":\"weather paris\",\"num_results\":\"15\"}]]></xai:tool_args></xai:tool_usage_card>";

    #[test]
    fn tool_cards_become_lines_or_vanish() {
        let none = HashMap::new();
        let text = format!("Searching.{CARD}Sunny.");
        assert_eq!(clean(&text, ToolCards::Lines, &none), "Searching.\n[WebSearch] weather paris\nSunny.");
        assert_eq!(clean(&text, ToolCards::Hide, &none), "Searching.Sunny.");
        let upper = "<XAI:TOOL_USAGE_CARD><XAI:TOOL_NAME>web_search</XAI:TOOL_NAME><XAI:TOOL_ARGS>{\"query\":\"hello\"}</XAI:TOOL_ARGS></XAI:TOOL_USAGE_CARD>";
        assert_eq!(clean(upper, ToolCards::Lines, &none), "[WebSearch] hello\n");
        let rollout = "<rolloutId>abc123</rolloutId><xai:tool_usage_card><xai:tool_name>browse_page</xai:tool_name><xai:tool_args>{\"url\":\"https://a.b\"}</xai:tool_args></xai:tool_usage_card>";
        assert_eq!(clean(rollout, ToolCards::Lines, &none), "[Browse] https://a.b\n");
        let bare =
            "a xai:tool_usage_card><xai:tool_name>code_execution</xai:tool_name></xai:tool_usage_card>b";
        assert_eq!(clean(bare, ToolCards::Hide, &none), "a b");
    }

    #[test]
    fn every_split_of_the_stream_gives_the_same_text() {
        let mut cards = HashMap::new();
        cards.insert("c1".to_string(), "https://example.com/source".to_string());
        let text = format!(
            "Checking 特朗普 <b>now</b>.{CARD}Result: sunny<grok:render card_id=\"c1\" card_type=\"citation_card\" type=\"render_inline_citation\"><argument name=\"citation_id\">0</argument></grok:render>, xylophone x<grok:render card_id=\"z\" type=\"render_searched_image\">img</grok:render>."
        );
        let expected = "Checking 特朗普 <b>now</b>.\n[WebSearch] weather paris\nResult: sunny [[1]](https://example.com/source), xylophone x.";
        assert_eq!(clean(&text, ToolCards::Lines, &cards), expected);
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        for &(split, _) in &chars {
            for &(split2, _) in chars.iter().filter(|(i, _)| *i >= split) {
                let got = stream(
                    &[&text[..split], &text[split..split2], &text[split2..]],
                    ToolCards::Lines,
                    &cards,
                );
                assert_eq!(got, expected, "split at {split}/{split2}");
            }
        }
    }

    #[test]
    fn a_tool_line_starts_on_its_own_line_whatever_the_tokens() {
        let none = HashMap::new();
        let pieces = [
            "Searching.",
            "<xai:tool_us",
            "age_card><xai:tool_name>web_search</xai:tool_name><xai:tool_args>{\"query\":\"x\"}</xai:tool_args></xai:tool_usage_card>",
            " Result.",
        ];
        assert_eq!(stream(&pieces, ToolCards::Lines, &none), "Searching.\n[WebSearch] x\n Result.");
    }

    #[test]
    fn holds_back_only_an_unfinished_opener() {
        let none = HashMap::new();
        let mut c = Cleaner::new(ToolCards::Lines);
        let mut out = String::new();
        c.push("Hello <xai:tool_us", &none, &mut out);
        assert_eq!(out, "Hello ");
        c.push("ed to be", &none, &mut out);
        assert_eq!(out, "Hello <xai:tool_used to be", "not an opener after all: released");
        c.push(" <b>bold</b> a<", &none, &mut out);
        assert_eq!(out, "Hello <xai:tool_used to be <b>bold</b> a");
        c.finish(&mut out);
        assert_eq!(out, "Hello <xai:tool_used to be <b>bold</b> a<");
    }

    #[test]
    fn an_unclosed_block_is_dropped_at_the_end() {
        let none = HashMap::new();
        assert_eq!(
            clean("before <grok:render card_id=\"x\">never closed", ToolCards::Lines, &none),
            "before "
        );
    }
}

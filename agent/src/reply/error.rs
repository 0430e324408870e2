//! Why a reply could not be used, worded to be sent back to the model.

/// A reply that cannot be parsed or applied. `Display` is the message for the re-ask: it
/// says what was wrong and what to send instead.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ReplyError {
    #[error("the reply is empty.")]
    Empty,

    #[error(
        "no JSON object was found. Answer with a JSON object {{\"reasoning\": \"...\", \"suggestion\": {{\"name\": value}}}}, or TERMINATE if nothing should change."
    )]
    NoJson,

    #[error(
        "the JSON is invalid ({message}). Answer with one valid JSON object {{\"reasoning\": \"...\", \"suggestion\": {{...}}}}."
    )]
    InvalidJson { message: String },

    #[error(
        "the JSON object has no `suggestion` field. Put the new values in \"suggestion\": {{\"name\": value}}."
    )]
    MissingSuggestion,

    #[error("`suggestion` must be an object mapping variable names to values, not {found}.")]
    SuggestionNotObject { found: String },

    #[error("`{name}` is not a variable of this task; the variables are: {known}.")]
    UnknownVariable { name: String, known: String },

    #[error("`{name}` must be a number, but the suggestion gives {value}.")]
    NotANumber { name: String, value: String },

    #[error(
        "no complete code block in {allowed} was found. Answer with the full program in one fenced block (```{first}), or with SEARCH/REPLACE blocks."
    )]
    NoCodeBlock { allowed: String, first: String },

    #[error(
        "the reply ends inside an unclosed ``` block (it may have been cut off). Send the complete program, or smaller SEARCH/REPLACE edits, and close every block with ```."
    )]
    UnclosedCodeBlock,

    #[error("the code block is in `{tag}`, which this task does not accept; accepted: {allowed}.")]
    LanguageNotAllowed { tag: String, allowed: String },

    #[error(
        "SEARCH/REPLACE block {block} is malformed: {reason}. Each edit is `<<<<<<< SEARCH`, the exact lines to find, `=======`, the new lines, `>>>>>>> REPLACE`."
    )]
    MalformedEdit { block: usize, reason: String },

    #[error(
        "SEARCH/REPLACE block {block} (starting `{first_line}`) matches nothing in {file}. Copy the SEARCH lines exactly from the current code, or send the full file."
    )]
    EditNotFound {
        block: usize,
        first_line: String,
        file: String,
    },

    #[error(
        "SEARCH/REPLACE block {block} (starting `{first_line}`) matches {count} places in {file}. Include more surrounding lines so it matches exactly one."
    )]
    EditAmbiguous {
        block: usize,
        first_line: String,
        file: String,
        count: usize,
    },

    #[error(
        "there is no current file to apply SEARCH/REPLACE edits to{detail}. Send the full program in one fenced code block."
    )]
    NoEditTarget { detail: String },

    #[error("expected a JSON list of {k} distinct improvement directions (strings){detail}.")]
    NoDirections { k: usize, detail: String },

    #[error("the insights text is empty. Answer with the rewritten insights as plain text.")]
    NoInsights,

    #[error(
        "the reply holds a program (a ```{tag} block), not insights. Answer with the rewritten insights as plain text, without code."
    )]
    InsightsAreCode { tag: String },
}

//! The data that flows between stages: records read from a file, and what validation made of them.

/// One data line as read: where it is, its text, and its fields (or why they could not be read).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// 1-based physical line number in the file (the header is line 1).
    pub line: u64,
    /// The line's text without its line end; invalid UTF-8 is replaced by U+FFFD.
    pub raw: String,
    /// The fields in file order, or why the line is not a well-formed CSV record.
    pub fields: Result<Vec<String>, String>,
}

/// A batch of records of one file, in file order.
pub type RecordBatch = Vec<Record>;

/// A line that passed the row rules, with its values normalised, in [`olist::Dataset::columns`] order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidRow {
    /// 1-based physical line number.
    pub line: u64,
    /// The line's text.
    pub raw: String,
    /// The values, `None` for an empty optional field.
    pub values: Vec<Option<String>>,
}

/// A line that breaks a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// 1-based physical line number.
    pub line: u64,
    /// The line's text.
    pub raw: String,
    /// Why, in words a person understands, naming the field and value.
    pub reason: String,
    /// The line's key (first key column) when it could be read, so that lines referring to it can
    /// say it was rejected.
    pub key: Option<String>,
}

/// What validation made of a batch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValidatedBatch {
    /// Lines that passed the row rules.
    pub rows: Vec<ValidRow>,
    /// Lines that did not.
    pub rejections: Vec<Rejection>,
}

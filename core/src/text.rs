//! Fitting text into X3 fields. X3 counts characters, not bytes, and a value that does not fit is
//! shortened only with a record of it: merchants must be able to see what X3 got.

/// A value shortened to fit its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortened {
    pub field: String,
    pub original: String,
    pub sent: String,
}

/// Collects what was shortened while a document is rendered.
#[derive(Debug, Default)]
pub struct Fitter {
    pub shortened: Vec<Shortened>,
}

impl Fitter {
    /// `value` trimmed, and cut to `limit` characters when longer (the cut is recorded under
    /// `field`). Trailing spaces left by the cut are removed too.
    pub fn fit(&mut self, field: &str, value: &str, limit: usize) -> String {
        let trimmed = value.trim();
        if trimmed.chars().count() <= limit {
            return trimmed.to_string();
        }
        let sent: String = trimmed.chars().take(limit).collect();
        let sent = sent.trim_end().to_string();
        self.shortened.push(Shortened {
            field: field.to_string(),
            original: trimmed.to_string(),
            sent: sent.clone(),
        });
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_by_characters_and_reports_each_cut() {
        let mut f = Fitter::default();
        assert_eq!(f.fit("a", "  short  ", 10), "short");
        assert!(f.shortened.is_empty());
        // 5 characters, 15 bytes: fits.
        assert_eq!(f.fit("b", "山田山田山", 5), "山田山田山");
        assert_eq!(f.fit("c", "Ørsted 山田 Zoë", 8), "Ørsted 山");
        assert_eq!(f.fit("d", "abc def", 4), "abc");
        assert_eq!(
            f.shortened,
            vec![
                Shortened {
                    field: "c".into(),
                    original: "Ørsted 山田 Zoë".into(),
                    sent: "Ørsted 山".into()
                },
                Shortened {
                    field: "d".into(),
                    original: "abc def".into(),
                    sent: "abc".into()
                },
            ]
        );
    }
}

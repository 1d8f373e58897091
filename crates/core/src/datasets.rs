//! The datasets iw knows, written once: the name iw uses (commands, folders, experiment files),
//! the paper's name (the folders of its per-lesion records), the title, and the paper's
//! small-lesion threshold (diameter in voxels, METHOD.md "Size strata").
//!
//! Either name finds a dataset: `luna16` and the paper's `luna` are one dataset, `mets` and
//! `met` another.

/// One dataset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dataset {
    /// iw's name: `lits`, `luna16`, `mets`.
    pub key: &'static str,
    /// The paper's name (its records' folders): `lits`, `luna`, `met`.
    pub paper_name: &'static str,
    /// For people: `LiTS`, `LUNA16`, `Brain metastases`.
    pub title: &'static str,
    /// Small lesions: diameter below this many voxels.
    pub small_below: f64,
}

/// Every dataset iw knows.
pub const DATASETS: [Dataset; 3] = [
    Dataset { key: "lits", paper_name: "lits", title: "LiTS", small_below: 12.0 },
    Dataset { key: "luna16", paper_name: "luna", title: "LUNA16", small_below: 8.0 },
    Dataset { key: "mets", paper_name: "met", title: "Brain metastases", small_below: 5.0 },
];

/// The dataset called `name` (iw's name or the paper's).
pub fn dataset(name: &str) -> Option<&'static Dataset> {
    DATASETS.iter().find(|d| d.key == name || d.paper_name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_names_find_one_dataset() {
        assert_eq!(dataset("luna").map(|d| d.key), Some("luna16"));
        assert_eq!(dataset("luna16").map(|d| d.small_below), Some(8.0));
        assert_eq!(dataset("met").map(|d| d.key), dataset("mets").map(|d| d.key));
        assert_eq!(dataset("lits").map(|d| d.small_below), Some(12.0));
        assert!(dataset("brats").is_none());
    }
}

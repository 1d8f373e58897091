//! Dataset manifests (`data-manifests/*.yaml`): the case ids of a dataset and its split, and the
//! LUNA16 rules a manifest is resolved from.
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

fn manifest_error(origin: &str, message: impl Into<String>) -> Error {
    Error::Manifest { origin: origin.to_string(), message: message.into() }
}

/// A case id written as a number or a string.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum CaseId {
    /// `17`
    Number(u64),
    /// `"1.3.6.1.4..."`
    Text(String),
}

impl std::fmt::Display for CaseId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CaseId::Number(n) => write!(f, "{n}"),
            CaseId::Text(s) => f.write_str(s),
        }
    }
}

/// Train / validation / test case ids.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Split {
    /// Training cases.
    pub train: Vec<CaseId>,
    /// Validation cases.
    pub validation: Vec<CaseId>,
    /// Test cases.
    pub test: Vec<CaseId>,
}

/// A dataset manifest.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Dataset name.
    pub dataset: String,
    /// Every case id.
    pub cases: Vec<CaseId>,
    /// The split.
    pub split: Split,
}

/// The LiTS manifest compiled into the binary (data-manifests/lits.yaml).
pub const LITS: &str = include_str!("../../../data-manifests/lits.yaml");

/// The LUNA16 rules compiled into the binary (data-manifests/luna16.yaml).
pub const LUNA16: &str = include_str!("../../../data-manifests/luna16.yaml");

/// How LUNA16's subsets make the split.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SubsetSplit {
    /// Subsets whose scans train (those not drawn for validation).
    pub train_subsets: Vec<u32>,
    /// How many of them validate.
    pub validation_cases: usize,
    /// The `random_state` of sklearn's `train_test_split` that draws them (the authors':
    /// 0xBadCafe).
    pub validation_seed: u32,
    /// Held-out subsets.
    pub test_subsets: Vec<u32>,
}

/// sklearn's `train_test_split(ids, test_size=n_test, random_state=seed)` (shuffle, no
/// stratification): `ShuffleSplit` draws `RandomState(seed).permutation(len(ids))`, the first
/// `n_test` are the test part and the rest the train part, both in permutation order.
pub fn train_test_split<T: Clone>(ids: &[T], n_test: usize, seed: u32) -> (Vec<T>, Vec<T>) {
    let mut perm: Vec<usize> = (0..ids.len()).collect();
    iw_core::RandomState::new(seed).shuffle(&mut perm);
    let n_test = n_test.min(ids.len());
    let pick = |r: &[usize]| r.iter().map(|&i| ids[i].clone()).collect::<Vec<T>>();
    (pick(&perm[n_test..]), pick(&perm[..n_test]))
}

/// data-manifests/luna16.yaml: the split rule and the scan lists of the LUNA16 preparation.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Luna16Rules {
    /// `luna16`.
    pub dataset: String,
    /// The split rule.
    pub split: SubsetSplit,
    /// Scans excluded everywhere.
    pub outliers: Vec<String>,
    /// Scans whose annotations.csv centres have x and y mirrored.
    pub reverse: Vec<String>,
    /// The paper's test scans (its records), to check the held-out subsets against.
    pub paper_test: Vec<String>,
}

impl Luna16Rules {
    /// Parses rules text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        serde_norway::from_str(text).map_err(|e| manifest_error(origin, format!("not LUNA16 rules: {e}")))
    }

    /// The split of the scans present (`uid -> subset`): outliers dropped, test = the held-out
    /// subsets, validation = `validation_cases` scans of the training subsets drawn by sklearn's
    /// `train_test_split` (scans ordered by subset, then uid), train = the others. Scans of other
    /// subsets are left out.
    pub fn resolve(&self, scans: &[(String, u32)]) -> Manifest {
        let outliers: std::collections::HashSet<&str> = self.outliers.iter().map(String::as_str).collect();
        let mut kept: Vec<(u32, String)> =
            scans.iter().filter(|(u, _)| !outliers.contains(u.as_str())).map(|(u, s)| (*s, u.clone())).collect();
        kept.sort();
        let pool: Vec<String> =
            kept.iter().filter(|(s, _)| self.split.train_subsets.contains(s)).map(|(_, u)| u.clone()).collect();
        let (train, validation) = train_test_split(&pool, self.split.validation_cases, self.split.validation_seed);
        let mut test: Vec<String> =
            kept.iter().filter(|(s, _)| self.split.test_subsets.contains(s)).map(|(_, u)| u.clone()).collect();
        test.sort();
        let ids = |v: &[String]| v.iter().cloned().map(CaseId::Text).collect::<Vec<_>>();
        let mut cases = ids(&train);
        cases.extend(ids(&validation));
        cases.extend(ids(&test));
        Manifest {
            dataset: self.dataset.clone(),
            cases,
            split: Split { train: ids(&train), validation: ids(&validation), test: ids(&test) },
        }
    }
}

impl Manifest {
    /// Parses manifest text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let m: Manifest =
            serde_norway::from_str(text).map_err(|e| manifest_error(origin, format!("not a dataset manifest: {e}")))?;
        m.validate().map_err(|message| manifest_error(origin, message))?;
        Ok(m)
    }

    /// Reads a manifest file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Checks the split: every id once, every split id a case.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let all: std::collections::HashSet<String> = self.cases.iter().map(|c| c.to_string()).collect();
        if all.len() != self.cases.len() {
            return Err("duplicate case ids in `cases`".into());
        }
        let mut seen = std::collections::HashSet::new();
        for (name, ids) in
            [("train", &self.split.train), ("validation", &self.split.validation), ("test", &self.split.test)]
        {
            for id in ids {
                let id = id.to_string();
                if !all.contains(&id) {
                    return Err(format!("split.{name} names case {id}, which is not in `cases`"));
                }
                if !seen.insert(id.clone()) {
                    return Err(format!("case {id} is in more than one part of the split"));
                }
            }
        }
        Ok(())
    }

    /// Ids as strings.
    pub fn ids(list: &[CaseId]) -> Vec<String> {
        list.iter().map(|c| c.to_string()).collect()
    }

    /// A split of `n` cases in the paper's LiTS proportions (test 28/131, validation 5/131, at
    /// least one case each), for synthetic datasets.
    pub fn proportional(dataset: &str, n: usize) -> Self {
        Self::proportional_with_test(dataset, n, None)
    }

    /// [`Manifest::proportional`] with `test` test cases (the first ones) when given: validation
    /// and training keep the proportions of the other `n - test` cases (at least one training case).
    pub fn proportional_with_test(dataset: &str, n: usize, test: Option<usize>) -> Self {
        let (test, val) = match test {
            Some(t) => {
                let test = t.clamp(1, n.saturating_sub(1).max(1));
                let rest = n.saturating_sub(test);
                (test, ((rest as f64 * 5.0 / 103.0).round() as usize).max(1).min(rest.saturating_sub(1)))
            }
            None => {
                let test = ((n as f64 * 28.0 / 131.0).round() as usize).clamp(1, n.saturating_sub(2).max(1));
                (test, ((n as f64 * 5.0 / 131.0).round() as usize).max(1).min(n.saturating_sub(test + 1)))
            }
        };
        let ids: Vec<CaseId> = (0..n as u64).map(CaseId::Number).collect();
        Manifest {
            dataset: dataset.to_string(),
            cases: ids.clone(),
            split: Split {
                test: ids[..test].to_vec(),
                validation: ids[test..test + val].to_vec(),
                train: ids[test + val..].to_vec(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_test_set_size_keeps_validation_and_training() {
        // 20 cases: 4 test, 1 validation, 15 training; 28 with 12 test: 12, 1, 15.
        let m = Manifest::proportional("lits", 20);
        assert_eq!((m.split.test.len(), m.split.validation.len(), m.split.train.len()), (4, 1, 15));
        let m = Manifest::proportional_with_test("lits", 28, Some(12));
        assert_eq!((m.split.test.len(), m.split.validation.len(), m.split.train.len()), (12, 1, 15));
        assert_eq!(Manifest::ids(&m.split.test), (0..12).map(|i| i.to_string()).collect::<Vec<_>>());
    }

    #[test]
    fn lits_manifest_is_the_papers_split() {
        let m = Manifest::parse(LITS, "lits.yaml").unwrap();
        assert_eq!(m.cases.len(), 131);
        assert_eq!(Manifest::ids(&m.split.test), (0..28).map(|i| i.to_string()).collect::<Vec<_>>());
        assert_eq!(Manifest::ids(&m.split.validation), (28..33).map(|i| i.to_string()).collect::<Vec<_>>());
        assert_eq!(Manifest::ids(&m.split.train), (33..131).map(|i| i.to_string()).collect::<Vec<_>>());
    }

    #[test]
    fn luna16_rules_resolve_the_subset_split() {
        let r = Luna16Rules::parse(LUNA16, "luna16.yaml").unwrap();
        assert_eq!(r.paper_test.len(), 159);
        assert_eq!((r.outliers.len(), r.reverse.len()), (72, 11));
        let outlier = r.outliers[0].clone();
        let mut scans: Vec<(String, u32)> = (0..30).map(|i| (format!("1.{i:02}"), i % 10)).collect();
        scans.push((outlier.clone(), 8));
        let m = r.resolve(&scans);
        let ids = |l: &[CaseId]| Manifest::ids(l);
        assert_eq!(ids(&m.split.test), ["1.08", "1.09", "1.18", "1.19", "1.28", "1.29"]);
        assert_eq!(m.split.validation.len(), 5);
        assert_eq!(m.split.train.len(), 30 - 6 - 5);
        // The pool is subsets 0-7 ordered by subset, then uid; the 5 are sklearn's draw.
        let mut pool: Vec<(u32, String)> = scans.iter().filter(|(_, s)| *s < 8).map(|(u, s)| (*s, u.clone())).collect();
        pool.sort();
        let pool: Vec<String> = pool.into_iter().map(|(_, u)| u).collect();
        assert_eq!(ids(&m.split.validation), train_test_split(&pool, 5, 195939070).1);
        assert!(!ids(&m.cases).contains(&outlier), "outliers are excluded");
        m.validate().unwrap();
    }

    /// Issue 12, point 8: the validation draw is sklearn's `train_test_split(ids, test_size=5,
    /// random_state=0xBadCafe)`, run here in the venv's sklearn for pools of several sizes.
    #[test]
    fn r12_train_test_split_is_sklearns() {
        let python = iw_test_support::python();
        for n in [6usize, 20, 37, 600] {
            let ids: Vec<String> = (0..n).map(|i| format!("1.3.6.{i}")).collect();
            let script = format!(
                "import json\nfrom sklearn.model_selection import train_test_split\n\
                 ids = {}\nprint(json.dumps(train_test_split(ids, test_size=5, random_state=195939070)))",
                serde_json::to_string(&ids).unwrap()
            );
            let out = std::process::Command::new(&python).arg("-c").arg(&script).output().expect("python");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let want: (Vec<String>, Vec<String>) = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(train_test_split(&ids, 5, 195939070), want, "{n} ids");
        }
    }

    #[test]
    fn unknown_keys_and_bad_splits_are_errors() {
        let e = Manifest::parse(
            "dataset: x\ncases: [1]\nsplit: {train: [1], validation: [], test: []}\nextra: 1\n",
            "m.yaml",
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("unknown field `extra`"), "{e:#}");
        let e = Manifest::parse("dataset: x\ncases: [1]\nsplit: {train: [1], validation: [], test: [2]}\n", "m.yaml")
            .unwrap_err();
        assert!(format!("{e:#}").contains("split.test names case 2"), "{e:#}");
        let m = Manifest::proportional("lits", 20);
        assert_eq!((m.split.test.len(), m.split.validation.len(), m.split.train.len()), (4, 1, 15));
        let m = Manifest::proportional("lits", 2);
        assert_eq!((m.split.test.len(), m.split.validation.len(), m.split.train.len()), (1, 0, 1));
    }
}

//! Who asked for an approval: a local program, named from the socket peer's credentials, or a
//! `countersign://` link.

/// Who asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A local program, named from the socket peer's credentials (peer.rs).
    Program(Requester),
    /// A `countersign://` link: anyone could have made it, and no one gets the result.
    Link,
}

/// The program that asked, in parts the screen labels apart: what the system vouches for
/// (the executable and the pid) and what the program says about itself (the script).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Requester {
    /// The executable's path, the target of /proc/PID/exe, as the kernel keeps it.
    pub executable: String,
    /// For an interpreter (`sh`, `python3`, …), the script its arguments name. A process can
    /// rewrite its arguments: this is its own claim.
    pub script: Option<String>,
    /// Its process id.
    pub pid: u32,
}

impl Requester {
    /// "/usr/bin/dash (pid 4242), running /srv/deploy.sh by its own account".
    pub fn label(&self) -> String {
        let Requester {
            executable,
            script,
            pid,
        } = self;
        match script {
            Some(s) => format!("{executable} (pid {pid}), running {s} by its own account"),
            None => format!("{executable} (pid {pid})"),
        }
    }
}

impl Source {
    pub fn label(&self) -> String {
        match self {
            Source::Program(r) => r.label(),
            Source::Link => "a link".to_owned(),
        }
    }

    /// The program that asked, if a program did.
    pub fn requester(&self) -> Option<&Requester> {
        match self {
            Source::Program(r) => Some(r),
            Source::Link => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_requester_marks_what_it_says_about_itself() {
        let r = Requester {
            executable: "/usr/bin/dash".into(),
            script: Some("/srv/deploy.sh".into()),
            pid: 7,
        };
        assert_eq!(
            r.label(),
            "/usr/bin/dash (pid 7), running /srv/deploy.sh by its own account"
        );
        let bare = Requester { script: None, ..r };
        assert_eq!(bare.label(), "/usr/bin/dash (pid 7)");
    }
}

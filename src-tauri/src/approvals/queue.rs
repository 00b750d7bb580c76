//! Requests waiting for the person, first come first served. The head is the one on screen;
//! the others wait ("2 more waiting"). Each request is answered exactly once. Links and
//! programs have places of their own, so links (which anyone can make) never crowd out a
//! program.

use crate::requests::protocol::{Ask, Outcome};
use crate::requests::source::Source;
use std::collections::VecDeque;
use tokio::sync::oneshot;

/// At most this many requests from programs wait; more are refused rather than piled up
/// unseen.
pub const MAX_WAITING: usize = 20;
/// At most this many links wait, in places of their own beside the programs'.
pub const MAX_LINKS: usize = 3;

pub struct Pending {
    pub id: String,
    pub source: Source,
    pub ask: Ask,
    /// When it came, Unix milliseconds.
    pub received_ms: i64,
    /// Unix milliseconds after which it times out.
    pub deadline_ms: i64,
    /// Its number and the numbers offered, for a program's request while matching is on.
    pub matching: Option<crate::requests::matching::Matching>,
    reply: Option<oneshot::Sender<Outcome>>,
}

#[derive(Default)]
pub struct Queue {
    items: VecDeque<Pending>,
    next: u64,
    /// How many wait, on screen included, for those who follow it (the tray's count).
    count: tokio::sync::watch::Sender<usize>,
}

impl Queue {
    /// Whether a request from `source` would find no place: links and programs are counted
    /// apart, each against its own limit.
    pub fn is_full(&self, source: &Source) -> bool {
        let link = *source == Source::Link;
        let same = self
            .items
            .iter()
            .filter(|p| (p.source == Source::Link) == link)
            .count();
        same >= if link { MAX_LINKS } else { MAX_WAITING }
    }

    /// Adds a request (check [`Self::is_full`] first); gives its id and place.
    pub fn push(
        &mut self,
        source: Source,
        ask: Ask,
        now_ms: i64,
        reply: Option<oneshot::Sender<Outcome>>,
    ) -> (String, usize) {
        self.next += 1;
        let id = format!("req-{}-{}", now_ms, self.next);
        let deadline_ms = now_ms.saturating_add(ask.timeout_secs as i64 * 1000);
        self.items.push_back(Pending {
            id: id.clone(),
            source,
            received_ms: now_ms,
            deadline_ms,
            ask,
            matching: None,
            reply,
        });
        self.count.send_replace(self.items.len());
        (id, self.items.len())
    }

    pub fn head(&self) -> Option<&Pending> {
        self.items.front()
    }

    /// The waiting requests, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Pending> {
        self.items.iter()
    }

    pub fn get(&self, id: &str) -> Option<&Pending> {
        self.items.iter().find(|p| p.id == id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Pending> {
        self.items.iter_mut().find(|p| p.id == id)
    }

    /// Every number, right or offered, of the requests waiting: a new request's avoid them.
    pub fn numbers_in_use(&self) -> Vec<u8> {
        self.items
            .iter()
            .filter_map(|p| p.matching.as_ref())
            .flat_map(|m| m.choices)
            .collect()
    }

    /// How many wait behind the one on screen.
    pub fn waiting(&self) -> usize {
        self.items.len().saturating_sub(1)
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Takes the request out and answers its requester (if one listens). `None` if it was
    /// already answered.
    pub fn resolve(&mut self, id: &str, outcome: Outcome) -> Option<Pending> {
        let i = self.items.iter().position(|p| p.id == id)?;
        let mut p = self.items.remove(i)?;
        self.count.send_replace(self.items.len());
        if let Some(tx) = p.reply.take() {
            // The requester may have gone meanwhile; nothing is owed to it then.
            let _ = tx.send(outcome);
        }
        Some(p)
    }

    /// How many requests wait, on screen included, now and at each change.
    pub fn watch(&self) -> tokio::sync::watch::Receiver<usize> {
        self.count.subscribe()
    }

    pub fn ids(&self) -> Vec<String> {
        self.items.iter().map(|p| p.id.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requests::protocol::Status;
    use crate::requests::source::Requester;
    use std::collections::BTreeMap;

    fn ask(timeout: u64) -> Ask {
        Ask::check(
            "transfer:write",
            BTreeMap::new(),
            None,
            Some(timeout),
            false,
        )
        .unwrap()
    }

    fn program(name: &str, pid: u32) -> Source {
        Source::Program(Requester {
            executable: "/usr/bin/dash".into(),
            script: Some(name.into()),
            pid,
        })
    }

    #[test]
    fn first_come_first_served_and_answered_once() {
        let mut q = Queue::default();
        let (tx1, mut rx1) = oneshot::channel();
        let (a, pos_a) = q.push(Source::Link, ask(60), 1_000, Some(tx1));
        let (b, pos_b) = q.push(program("deploy.sh", 7), ask(1), 1_000, None);
        assert_eq!((pos_a, pos_b), (1, 2));
        assert_eq!(q.head().unwrap().id, a);
        assert_eq!(q.waiting(), 1);
        assert_eq!(q.get(&b).unwrap().deadline_ms, 2_000, "1 s after 1 000 ms");
        let out = Outcome::new(Status::Denied, &ask(60));
        assert!(q.resolve(&a, out.clone()).is_some());
        assert_eq!(rx1.try_recv().unwrap().status, Status::Denied);
        assert!(q.resolve(&a, out).is_none(), "answered once");
        assert_eq!(q.head().unwrap().id, b);
        assert_eq!(q.waiting(), 0);
    }

    #[test]
    fn links_and_programs_fill_places_of_their_own() {
        let program = program("deploy.sh", 7);
        let mut q = Queue::default();
        // Links fill theirs; a program still finds all of its places.
        for _ in 0..MAX_LINKS {
            assert!(!q.is_full(&Source::Link));
            q.push(Source::Link, ask(60), 0, None);
        }
        assert!(q.is_full(&Source::Link));
        for n in 0..MAX_WAITING {
            assert!(!q.is_full(&program), "program {n} refused");
            q.push(program.clone(), ask(60), 0, None);
        }
        assert!(q.is_full(&program));
        assert_eq!(q.len(), MAX_LINKS + MAX_WAITING);
        // A link that leaves frees a place for a link only.
        let first = q.head().unwrap().id.clone();
        q.resolve(&first, Outcome::new(Status::Cancelled, &ask(60)));
        assert!(!q.is_full(&Source::Link));
        assert!(q.is_full(&program));
        // Programs that fill their places first leave the links theirs.
        let mut q = Queue::default();
        for _ in 0..MAX_WAITING {
            q.push(program.clone(), ask(60), 0, None);
        }
        assert!(q.is_full(&program));
        assert!(!q.is_full(&Source::Link));
    }
}

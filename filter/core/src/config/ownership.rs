//! The table of every request header a configuration reads or writes, each with the field that
//! uses it. Built once while compiling: a header written for one purpose and read or written for
//! another is refused (one error format for every clash), and what the filter writes becomes
//! [`Owned`], which the request plan ([`crate::plan`]) gives every request.

use super::{Condition, ConfigError, KeySource, LaneCarrier, Route};
use crate::lane::BAGGAGE_HEADER;
use crate::matcher::percent_decode;

/// What the configuration writes on every request it sees: a client's value of these never
/// reaches the upstream unless a route that trusts its lane lets it through.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Owned {
    /// Each header once, in the order the configuration names them.
    pub headers: Vec<OwnedHeader>,
    /// Baggage member keys (percent-decoded) an untrusted lane writes.
    pub baggage_keys: Vec<Vec<u8>>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct OwnedHeader {
    /// Lowercase.
    pub name: String,
    pub role: Role,
}

/// Why the filter writes a header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `routingHeader`: the chosen subset.
    Routing,
    /// `reasonHeader`: why it was chosen.
    Reason,
    /// An untrusted `lane.header`: the chosen subset, down the call chain.
    Lane,
    /// `mirror.header`: the mirror subset, for users in the sample.
    Mirror,
    /// `stickiness.assign.header`: the visitor's id.
    Id,
}

/// Uses that may share a header: routes writing the same lane, mark or id header, and a lane
/// some routes write and others trust.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Group {
    HeaderLane,
    BaggageLane,
    Role(Role),
}

struct Use {
    /// Lowercase header name.
    name: String,
    /// Where an error about this use points.
    path: String,
    /// How another use's error names this one.
    field: String,
    /// What a clash would overwrite, in another use's error.
    lost: &'static str,
    /// The filter writes this header (or members of it).
    writes: bool,
    group: Option<Group>,
    /// The admin did not name it: a default (the routing or token header).
    default: bool,
    /// For an owned header: why it is written.
    role: Option<Role>,
}

impl Use {
    fn read(name: &str, path: String, field: String, lost: &'static str) -> Use {
        Use {
            name: name.to_string(),
            path,
            field,
            lost,
            writes: false,
            group: None,
            default: false,
            role: None,
        }
    }

    fn owned(
        name: &str,
        path: String,
        role: Role,
        group: Option<Group>,
        lost: &'static str,
    ) -> Use {
        Use {
            name: name.to_string(),
            field: path.clone(),
            path,
            lost,
            writes: true,
            group,
            default: false,
            role: Some(role),
        }
    }

    /// Which of two clashing uses the error is about: the one that writes; of two writers, not a
    /// default, then the routing header, then the reason header, then the later one.
    fn blamed<'u>(&'u self, later: &'u Use) -> (&'u Use, &'u Use) {
        let rank = |u: &Use| match (u.writes, u.default, u.role) {
            (false, _, _) => 0,
            (true, true, _) => 1,
            (true, false, Some(Role::Routing)) => 4,
            (true, false, Some(Role::Reason)) => 3,
            (true, false, _) => 2,
        };
        if rank(self) > rank(later) {
            (self, later)
        } else {
            (later, self)
        }
    }
}

/// The table while it is being built.
#[derive(Default)]
pub(super) struct Uses {
    uses: Vec<Use>,
    baggage_keys: Vec<Vec<u8>>,
}

impl Uses {
    fn add(&mut self, new: Use) -> Result<(), ConfigError> {
        let clash = self.uses.iter().find(|old| {
            old.name == new.name
                && (old.writes || new.writes)
                && !(old.group.is_some() && old.group == new.group)
        });
        if let Some(old) = clash {
            let (blamed, other) = old.blamed(&new);
            let default = if blamed.default { " (the default)" } else { "" };
            return Err(ConfigError::new(
                blamed.path.clone(),
                format!(
                    "\"{}\"{default} is also {}; the filter would overwrite {}",
                    new.name, other.field, other.lost
                ),
            ));
        }
        self.uses.push(new);
        Ok(())
    }

    /// The fixed reads and the routing header, which the filter writes on every routed request.
    pub(super) fn new(routing: &str, named: bool) -> Result<Uses, ConfigError> {
        let mut uses = Uses::default();
        uses.add(Use::read(
            "host",
            String::new(),
            "the request's authority (host), which routes[].match.hosts match".to_string(),
            "it",
        ))?;
        uses.add(Use::read(
            "cookie",
            String::new(),
            "the request's cookies (cookie), which cookie keys and rules read".to_string(),
            "them",
        ))?;
        let mut routing = Use::owned(
            routing,
            "routingHeader".to_string(),
            Role::Routing,
            None,
            "the subset it routes on",
        );
        routing.field = "the routing header".to_string();
        routing.default = !named;
        uses.add(routing)?;
        Ok(uses)
    }

    pub(super) fn token(&mut self, name: &str, named: bool) -> Result<(), ConfigError> {
        let field = if named {
            "tokenHeader"
        } else {
            "the default tokenHeader"
        };
        let mut token = Use::read(
            name,
            "tokenHeader".to_string(),
            field.to_string(),
            "the token it checks",
        );
        token.default = !named;
        self.add(token)
    }

    pub(super) fn reason(&mut self, name: &str) -> Result<(), ConfigError> {
        self.add(Use::owned(
            name,
            "reasonHeader".to_string(),
            Role::Reason,
            None,
            "the reason it carries",
        ))
    }

    /// Every header route `path` reads for its decision and writes for its lane, mirror mark and
    /// id.
    pub(super) fn route(&mut self, path: &str, route: &Route) -> Result<(), ConfigError> {
        for (i, key) in route.keys.iter().enumerate() {
            if let KeySource::Header(name) = key {
                let field = format!("{path}.stickiness.keys[{i}].header");
                self.add(Use::read(name, field.clone(), field, "the key it hashes"))?;
            }
        }
        for (r, rule) in route.rules.iter().enumerate() {
            let mut header = 0;
            for condition in &rule.conditions {
                let (name, field, path) = match condition {
                    Condition::Header(name, _) => {
                        let field = format!("{path}.rules[{r}].match.headers[{header}].name");
                        header += 1;
                        (name.as_str(), field.clone(), field)
                    }
                    Condition::Os(_) => (
                        "user-agent",
                        format!("the header {path}.rules[{r}].match.os reads"),
                        format!("{path}.rules[{r}].match.os"),
                    ),
                    Condition::Cookie(..) | Condition::Query(..) | Condition::Path(_) => continue,
                };
                self.add(Use::read(name, path, field, "the header the rule matches"))?;
            }
        }
        if let Some(lane) = &route.lane {
            let (name, field, group) = match &lane.carrier {
                LaneCarrier::Header(name) => (
                    name.as_str(),
                    format!("{path}.lane.header"),
                    Group::HeaderLane,
                ),
                LaneCarrier::Baggage(key) => {
                    let decoded = percent_decode(key).into_owned();
                    if !lane.trust && !self.baggage_keys.contains(&decoded) {
                        self.baggage_keys.push(decoded);
                    }
                    (
                        BAGGAGE_HEADER,
                        format!("{path}.lane.baggage"),
                        Group::BaggageLane,
                    )
                }
            };
            let mut used = Use::owned(name, field, Role::Lane, Some(group), "the lane it carries");
            if matches!(group, Group::BaggageLane) {
                used.field = format!("{} (the baggage header)", used.path);
                // The baggage header is shared: only the lane's own member is written.
                used.role = None;
            }
            used.writes = !lane.trust;
            if lane.trust {
                used.role = None;
            }
            self.add(used)?;
        }
        if let Some(mirror) = &route.mirror {
            let field = format!("{path}.mirror.header");
            let group = Some(Group::Role(Role::Mirror));
            self.add(Use::owned(
                &mirror.header,
                field,
                Role::Mirror,
                group,
                "the mirror mark",
            ))?;
        }
        if let Some(header) = route.assign.as_ref().and_then(|a| a.header.as_deref()) {
            let field = format!("{path}.stickiness.assign.header");
            let group = Some(Group::Role(Role::Id));
            self.add(Use::owned(
                header,
                field,
                Role::Id,
                group,
                "the visitor's id",
            ))?;
        }
        Ok(())
    }

    /// What the filter writes, each header once.
    pub(super) fn owned(self) -> Owned {
        let mut headers: Vec<OwnedHeader> = Vec::new();
        for used in self.uses {
            let Some(role) = used.role.filter(|_| used.writes) else {
                continue;
            };
            if !headers.iter().any(|h| h.name == used.name) {
                headers.push(OwnedHeader {
                    name: used.name,
                    role,
                });
            }
        }
        Owned {
            headers,
            baggage_keys: self.baggage_keys,
        }
    }
}

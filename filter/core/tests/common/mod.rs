//! What several core test files share.

/// The full example from the project brief, valid, with every field set: 90/10, keys header >
/// cookie > query, salt "service-a", random fallback, a `users` rule and a five-condition rule,
/// both to v2.
pub const FULL_CONFIG: &str = r#"{"routingHeader":"X-Canary-Subset","exposeSubset":true,"routes":[{"name":"service-a","match":{"hosts":["servicea.com","*.svc.cluster.local"],"pathPrefix":"/"},"subsets":[{"name":"v1","weight":90},{"name":"v2","weight":10}],"stickiness":{"keys":[{"header":"x-user-id"},{"cookie":"uid"},{"query":"uid"}],"salt":"service-a","fallback":"random"},"rules":[{"subset":"v2","users":["alice","bob"]},{"subset":"v2","match":{"headers":[{"name":"x-canary","exact":"true"}],"cookies":[{"name":"beta","regex":"^(1|yes)$"}],"query":[{"name":"version","exact":"v2"}],"path":{"prefix":"/api/v2"},"os":["iOS","Android"]}}]}]}"#;

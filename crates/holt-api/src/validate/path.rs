//! Field paths in the version an object was written in. Rules are checked on the hub form; a path names the
//! field as the user wrote it: `spec.targets[1].kafka.topics[0].name` in v2, `spec.calls[1].kafkaTopics[0].name`
//! in v1.

/// Which family's field names to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `spec.workload`, `spec.targets[i].<key>.<field>`.
    V2,
    /// `spec.service`, `spec.calls[i].<v1 field>`.
    V1,
}

impl Layout {
    /// The client workload, or one of its fields (`name`, `kind`; empty for the workload itself).
    pub fn workload(self, field: &str) -> String {
        let base = match self {
            Layout::V2 => "spec.workload",
            Layout::V1 => "spec.service",
        };
        join(base, field)
    }

    /// Target (call) `index` itself.
    pub fn target(self, index: usize) -> String {
        match self {
            Layout::V2 => format!("spec.targets[{index}]"),
            Layout::V1 => format!("spec.calls[{index}]"),
        }
    }

    /// A field of target `index` under its `key`, written with v2 names (`http[0].path`, `topics[1].name`).
    pub fn target_field(self, index: usize, key: &str, field: &str) -> String {
        match self {
            Layout::V2 => join(&join(&self.target(index), key), field),
            Layout::V1 => join(&self.target(index), &v1_field(key, field)),
        }
    }

    /// A field of v1 call `index`, written with v1 names (`kafkaTopics`, `HTTPResources`).
    pub fn call_field(self, index: usize, field: &str) -> String {
        join(&self.target(index), field)
    }
}

fn join(base: &str, field: &str) -> String {
    if field.is_empty() {
        base.to_owned()
    } else {
        format!("{base}.{field}")
    }
}

/// The v1 call field that holds what the v2 `key.field` holds.
fn v1_field(key: &str, field: &str) -> String {
    let split = field.find(['.', '[']).unwrap_or(field.len());
    let (head, rest) = field.split_at(split);
    let mapped = match (key, head) {
        ("internet", "") => "internet",
        (_, "") => return String::new(),
        ("kubernetes" | "service" | "kafka" | "sql", "name") | ("aws", "arn") | ("gcp", "resource") => "name",
        ("azure", "scope") => "name",
        ("kubernetes", "kind") => "kind",
        (_, "http") => "HTTPResources",
        ("kafka", "topics") => "kafkaTopics",
        ("sql", "privileges") => "databaseResources",
        ("aws", "actions") => "awsActions",
        ("gcp", "permissions") => "gcpPermissions",
        ("azure", "roles") => "azureRoles",
        ("azure", "actions") => "azureActions",
        ("azure", "dataActions") => "azureDataActions",
        ("azure", "keyVaultPolicy") => "azureKeyVaultPolicy",
        ("internet", _) => return format!("internet.{field}"),
        (_, other) => other,
    };
    format!("{mapped}{rest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_paths() {
        assert_eq!(Layout::V2.workload("name"), "spec.workload.name");
        assert_eq!(Layout::V2.target(2), "spec.targets[2]");
        assert_eq!(
            Layout::V2.target_field(2, "kubernetes", "name"),
            "spec.targets[2].kubernetes.name"
        );
        assert_eq!(
            Layout::V2.target_field(0, "service", "http[1].path"),
            "spec.targets[0].service.http[1].path"
        );
        assert_eq!(Layout::V2.target_field(0, "azure", ""), "spec.targets[0].azure");
    }

    #[test]
    fn v1_paths() {
        assert_eq!(Layout::V1.workload("name"), "spec.service.name");
        assert_eq!(
            Layout::V1.target_field(2, "kubernetes", "name"),
            "spec.calls[2].name"
        );
        assert_eq!(
            Layout::V1.target_field(1, "kubernetes", "http[0].path"),
            "spec.calls[1].HTTPResources[0].path"
        );
        assert_eq!(
            Layout::V1.target_field(1, "kafka", "topics[0].name"),
            "spec.calls[1].kafkaTopics[0].name"
        );
        assert_eq!(Layout::V1.target_field(1, "aws", "arn"), "spec.calls[1].name");
        assert_eq!(
            Layout::V1.target_field(1, "azure", "dataActions"),
            "spec.calls[1].azureDataActions"
        );
        assert_eq!(
            Layout::V1.target_field(3, "internet", "domains[2]"),
            "spec.calls[3].internet.domains[2]"
        );
        assert_eq!(
            Layout::V1.target_field(3, "internet", ""),
            "spec.calls[3].internet"
        );
        assert_eq!(Layout::V1.target_field(3, "azure", ""), "spec.calls[3]");
        assert_eq!(
            Layout::V1.target_field(0, "sql", "privileges[1].databaseName"),
            "spec.calls[0].databaseResources[1].databaseName"
        );
    }
}

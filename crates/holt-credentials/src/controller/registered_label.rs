//! With SPIRE: the pod label its entries select on. Holt's entries (as the reference's) select
//! `k8s:pod-label:credentials-operator.otterize.com/registered-service-name=<workload>`, so each served pod
//! carries that label with its workload's name; Holt writes it (a merge patch of the pod's labels) when it is
//! missing or names another workload, before the SVID is minted.
//!
//! In: the Secret's pod records (with the label as last seen) and the request (the workload, the pods it
//! serves). Out: the pods patched, counted in `writes`; a pod already gone is skipped.

use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use crate::controller::job::{FIELD_MANAGER, JobError};
use crate::controller::pods::PodRecord;
use crate::provider::spire::REGISTERED_SERVICE_NAME_LABEL;
use crate::request::CertificateRequest;

/// Labels every pod `request` serves whose label does not name its workload yet.
pub async fn label_pods(
    client: &Client,
    records: &[PodRecord],
    request: &CertificateRequest,
    writes: &mut u64,
) -> Result<(), JobError> {
    let api: Api<Pod> = Api::namespaced(client.clone(), &request.namespace);
    let patch = json!({"metadata": {"labels": {REGISTERED_SERVICE_NAME_LABEL: request.workload}}});
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    for record in records {
        let key = record.key();
        if !request.pods.contains(&key) || record.registered_name() == Some(request.workload.as_str()) {
            continue;
        }
        match api.patch(&key.name, &params, &Patch::Merge(&patch)).await {
            Ok(_) => *writes += 1,
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(source) => {
                return Err(JobError::Label {
                    pod: key.to_string(),
                    source,
                });
            }
        }
    }
    Ok(())
}

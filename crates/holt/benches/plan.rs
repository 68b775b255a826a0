//! Benchmarks of Holt's pure core at cluster scale: building the model and rendering the full desired state,
//! and handling one ClientIntents change in an already-built model (apply + re-render only what it touched).
//!
//! `cargo bench -p holt --bench plan`. The one-change group runs at several cluster sizes side by side: its
//! time should stay flat as the cluster grows, while the full build grows with it.

mod synthetic;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use holt_model::{Changes, Config, Index, Object};
use holt_render::{RenderOptions, render_all, render_unit};

const SIZES: [(usize, usize); 3] = [(1_000, 500), (10_000, 5_000), (20_000, 10_000)];

fn build(objects: Vec<Object>) -> Index {
    let mut index = Index::new(Config::default());
    for object in objects {
        index.apply(object);
    }
    index
}

/// Re-renders exactly the units a change touched, as the operator does; returns how many objects came out.
fn render_changes(index: &Index, changes: &Changes, options: &RenderOptions) -> usize {
    let mut rendered = 0;
    for unit in changes.units() {
        let state = render_unit(index, unit, options).value;
        rendered += state.objects.len()
            + usize::from(state.pod_labels.is_some())
            + usize::from(state.kafka_acls.is_some());
    }
    rendered
}

fn full_build_and_render(c: &mut Criterion) {
    let mut group = c.benchmark_group("build_model_and_render_all");
    group.sample_size(10).measurement_time(Duration::from_secs(15));
    let options = RenderOptions::default();
    for (services, intents) in SIZES.into_iter().take(2) {
        let objects = synthetic::cluster(services, intents);
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{services}svc_{intents}intents")),
            &objects,
            |b, objects| {
                b.iter_batched(
                    || objects.clone(),
                    |objects| {
                        let index = build(objects);
                        black_box(render_all(&index, &options).objects.len())
                    },
                    BatchSize::LargeInput,
                )
            },
        );
    }
    group.finish();
}

fn one_intent_change(c: &mut Criterion) {
    let mut group = c.benchmark_group("one_intent_change");
    group.sample_size(50);
    let options = RenderOptions::default();
    for (services, intents) in SIZES {
        let mut index = build(synthetic::cluster(services, intents));
        let target = 7 % intents;
        let probe = index.apply(Object::ClientIntents(synthetic::intents_for(services, target, 1)));
        eprintln!(
            "one_intent_change at {services} services / {intents} intents: {} render units touched, {} objects re-rendered",
            probe.len(),
            render_changes(&index, &probe, &options)
        );
        let mut variant = 0;
        group.bench_function(
            BenchmarkId::from_parameter(format!("{services}svc_{intents}intents")),
            |b| {
                b.iter(|| {
                    variant = (variant + 1) % 2;
                    let changes = index.apply(Object::ClientIntents(synthetic::intents_for(
                        services, target, variant,
                    )));
                    black_box(render_changes(&index, &changes, &options))
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, full_build_and_render, one_intent_change);
criterion_main!(benches);

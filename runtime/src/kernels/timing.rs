//! Per-kernel timing on the paper's MNIST shapes (random data), for performance work:
//!
//! ```text
//! RUSTFLAGS="-C target-cpu=native" cargo test -p gmvae-runtime --release --lib timing -- --ignored --nocapture
//! ```

use std::time::Instant;
use std::vec::Vec;

use super::conv3x3::conv3x3_same;
use super::dense::{compact_nonzero, dense};
use super::relu::relu;
use super::testutil::Rng;
use super::upconv::upsample_conv3x3;
use super::Planes;

fn time(name: &str, reps: usize, mut f: impl FnMut()) {
    f();
    let reps = reps.div_ceil(5);
    let mut best = f64::INFINITY;
    for _ in 0..25 {
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        best = best.min(t.elapsed().as_secs_f64() / reps as f64);
    }
    std::println!("{name:<28} {:>9.1} µs", best * 1e6);
}

fn le(v: &[f32]) -> Vec<[u8; 4]> {
    v.iter().map(|f| f.to_le_bytes()).collect()
}

#[test]
#[ignore]
fn timing() {
    let mut rng = Rng(1);
    // Encoder conv1: 1 -> 32 at 28x28.
    let x = rng.vec(30 * 30);
    let (w1, b1) = (le(&rng.vec(32 * 9)), le(&rng.vec(32)));
    let mut o1 = vec![0.0; 32 * 28 * 30];
    time("enc conv1 1->32 28x28", 200, || {
        conv3x3_same(&x, 1, 28, 28, &w1, &b1, &mut o1, 32).unwrap()
    });
    // Encoder conv2: 32 -> 64 at 14x14.
    let x = rng.vec(32 * 16 * 16);
    let (w2, b2) = (le(&rng.vec(64 * 32 * 9)), le(&rng.vec(64)));
    let mut o2 = vec![0.0; 64 * 14 * 16];
    time("enc conv2 32->64 14x14", 50, || {
        conv3x3_same(&x, 32, 14, 14, &w2, &b2, &mut o2, 64).unwrap()
    });
    // fc1: 3136 -> 256 with ~half zero inputs.
    let xf: Vec<f32> = (0..3136).map(|_| relu(rng.sym())).collect();
    let (wf, bf) = (le(&rng.vec(3136 * 256)), le(&rng.vec(256)));
    let (mut vals, mut idx) = (vec![0.0; 3136], vec![0.0; 3136]);
    let mut h = vec![0.0; 256];
    time("enc fc1 3136->256", 50, || {
        let n = compact_nonzero(&xf, &mut vals, &mut idx).unwrap();
        dense(&vals[..n], &idx[..n], 3136, &wf, &bf, &mut h).unwrap()
    });
    // dec fc2: 256 -> 3136.
    let xh: Vec<f32> = (0..256).map(|_| relu(rng.sym())).collect();
    let (wd, bd) = (le(&rng.vec(3136 * 256)), le(&rng.vec(3136)));
    let mut o = vec![0.0; 3136];
    time("dec fc2 256->3136", 50, || {
        let n = compact_nonzero(&xh, &mut vals, &mut idx).unwrap();
        dense(&vals[..n], &idx[..n], 256, &wd, &bd, &mut o).unwrap()
    });
    // dec conv1: up(64 @ 7x7) -> 32 @ 14x14.
    let x = rng.vec(64 * 9 * 9);
    let (w3, b3) = (le(&rng.vec(32 * 64 * 9)), le(&rng.vec(32)));
    let mut fold = vec![0.0; 32 * 64 * 16];
    let mut tmp = vec![0.0; 32 * 7 * 9];
    let mut tmp2 = vec![0.0; 14 * 16];
    let mut o3 = vec![0.0; 32 * 16 * 16];
    let dst = Planes {
        plane: 256,
        row: 16,
        origin: 17,
    };
    time("dec conv1 up 64->32 14x14", 50, || {
        upsample_conv3x3(
            &x, 64, 7, 7, &w3, &b3, 32, &mut fold, &mut tmp, &mut o3, dst, relu,
        )
        .unwrap()
    });
    time("dec conv1 fold only (4 phases)", 50, || {
        super::upconv::fold_phases(&w3, &mut fold).unwrap();
    });
    {
        use super::flat::{correlate, FlatConv};
        let g = FlatConv {
            cin: 64,
            cout: 32,
            in_plane: 81,
            out_plane: 63,
            n_out: 61,
        };
        let fb = le(&rng.vec(32));
        time("dec conv1 correlate only x4", 50, || {
            for _ in 0..4 {
                correlate::<f32, [u8; 4], 2, 2, 4, { super::flat::DEC_CO }, { super::flat::DEC_P }>(
                    &x, &[0, 9], &fold[..8192], &fb, &mut tmp, &g,
                )
                .unwrap();
            }
        });
    }
    for zero_share in [0.5f32, 0.75] {
        use super::window_upconv::{
            fold_channel_minor, window_upconv, WindowScratch, WindowUpconv,
        };
        let mut xs = x.clone();
        for v in xs.iter_mut() {
            *v = if (rng.sym() + 1.0) / 2.0 < zero_share {
                0.0
            } else {
                v.abs()
            };
        }
        let (mut vals, mut offsets) = (vec![0.0; 3136], vec![0.0; 3136]);
        let mut starts = vec![0.0; 50];
        let dst = Planes {
            plane: 256,
            row: 16,
            origin: 17,
        };
        time(&format!("dec conv1 windows {zero_share} zero"), 50, || {
            fold_channel_minor(&w3, 64, 32, &mut fold).unwrap();
            let conv = WindowUpconv {
                input: &xs,
                cin: 64,
                h: 7,
                w: 7,
                folded: &fold,
                bias: &b3,
                cout: 32,
            };
            let scratch = WindowScratch {
                values: &mut vals,
                offsets: &mut offsets,
                starts: &mut starts,
            };
            window_upconv(&conv, scratch, &mut o3, dst, relu).unwrap()
        });
        time("  of which fold_channel_minor", 50, || {
            fold_channel_minor(&w3, 64, 32, &mut fold).unwrap();
        });
    }
    // dec conv2: up(32 @ 14x14) -> 1 @ 28x28.
    let x = rng.vec(32 * 16 * 16);
    let (w4, b4) = (le(&rng.vec(32 * 9)), le(&rng.vec(1)));
    let mut o4 = vec![0.0; 28 * 28];
    let dst = Planes {
        plane: 784,
        row: 28,
        origin: 0,
    };
    time("dec conv2 up 32->1 28x28", 100, || {
        upsample_conv3x3(
            &x,
            32,
            14,
            14,
            &w4,
            &b4,
            1,
            &mut fold,
            &mut tmp2,
            &mut o4,
            dst,
            super::sigmoid::sigmoid,
        )
        .unwrap()
    });
}

//! The BERT encoder's forward pass, on candle's CPU tensors, arranged for throughput.
//!
//! candle-transformers' `BertModel` is a reference implementation: three matrix products for
//! the query, key and value projections, weights multiplied through a transposed view, a
//! softmax composed of five tensor passes, a padding mask added even when nothing is padded.
//! On 2 cores that left the matrix kernels under a third of the time. This one computes the
//! same function (checked against sentence-transformers by `tests/reference.rs`) with:
//! one fused QKV product per layer, weights stored pre-transposed and contiguous, the
//! attention scale folded into the query weights, candle's fused last-dimension softmax and
//! layer norm, and the mask only when a batch has padding.

use candle_core::{D, DType, Module, Result, Tensor};
use candle_nn::{Embedding, VarBuilder};
use candle_transformers::models::bert::{Config, HiddenAct};

/// `x · W + b` with `W` stored as `[in, out]`, contiguous.
struct Dense {
    weight: Tensor,
    bias: Tensor,
}

impl Dense {
    /// Loads PyTorch's `[out, in]` weight and stores it transposed.
    fn load(vb: VarBuilder, inputs: usize, outputs: usize) -> Result<Self> {
        let weight = vb.get((outputs, inputs), "weight")?.t()?.contiguous()?;
        let bias = vb.get(outputs, "bias")?;
        Ok(Self { weight, bias })
    }

    /// Several projections of the same input as one (`[in, Σ out]`), each scaled by its factor.
    fn fused(parts: Vec<(Dense, f64)>) -> Result<Self> {
        let (mut weights, mut biases) = (Vec::new(), Vec::new());
        for (dense, scale) in parts {
            weights.push((dense.weight * scale)?);
            biases.push((dense.bias * scale)?);
        }
        Ok(Self {
            weight: Tensor::cat(&weights, 1)?.contiguous()?,
            bias: Tensor::cat(&biases, 0)?,
        })
    }

    /// `x`: `[rows, in]`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.matmul(&self.weight)?.broadcast_add(&self.bias)
    }
}

struct Norm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl Norm {
    fn load(vb: VarBuilder, size: usize, eps: f64) -> Result<Self> {
        Ok(Self {
            weight: vb.get(size, "weight")?,
            bias: vb.get(size, "bias")?,
            eps: eps as f32,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        candle_nn::ops::layer_norm(&x.contiguous()?, &self.weight, &self.bias, self.eps)
    }
}

struct Layer {
    qkv: Dense,
    attention_out: Dense,
    attention_norm: Norm,
    intermediate: Dense,
    output: Dense,
    output_norm: Norm,
}

/// A loaded BERT encoder (no pooler: sentence embeddings pool the last hidden states).
pub struct Encoder {
    words: Embedding,
    positions: Embedding,
    token_types: Embedding,
    embeddings_norm: Norm,
    layers: Vec<Layer>,
    heads: usize,
    head_size: usize,
    exact_gelu: bool,
}

impl Encoder {
    /// Loads the weights under `vb` (with or without a leading `bert.`, as checkpoints differ).
    pub fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        let vb = if vb.contains_tensor("embeddings.word_embeddings.weight") {
            vb
        } else {
            vb.pp("bert")
        };
        let hidden = config.hidden_size;
        let heads = config.num_attention_heads;
        let head_size = hidden / heads;
        let eps = config.layer_norm_eps;
        let embedding = |name: &str, rows: usize| -> Result<Embedding> {
            Ok(Embedding::new(
                vb.pp("embeddings").pp(name).get((rows, hidden), "weight")?,
                hidden,
            ))
        };
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let vb = vb.pp("encoder.layer").pp(i.to_string());
            let attention = vb.pp("attention");
            let own = attention.pp("self");
            // The 1/√d of scaled dot-product attention, applied to the queries once, at load.
            let scale = 1.0 / (head_size as f64).sqrt();
            let qkv = Dense::fused(vec![
                (Dense::load(own.pp("query"), hidden, hidden)?, scale),
                (Dense::load(own.pp("key"), hidden, hidden)?, 1.0),
                (Dense::load(own.pp("value"), hidden, hidden)?, 1.0),
            ])?;
            layers.push(Layer {
                qkv,
                attention_out: Dense::load(attention.pp("output.dense"), hidden, hidden)?,
                attention_norm: Norm::load(attention.pp("output.LayerNorm"), hidden, eps)?,
                intermediate: Dense::load(
                    vb.pp("intermediate.dense"),
                    hidden,
                    config.intermediate_size,
                )?,
                output: Dense::load(vb.pp("output.dense"), config.intermediate_size, hidden)?,
                output_norm: Norm::load(vb.pp("output.LayerNorm"), hidden, eps)?,
            });
        }
        let exact_gelu = match config.hidden_act {
            HiddenAct::Gelu => true,
            HiddenAct::GeluApproximate => false,
            HiddenAct::Relu => {
                return Err(candle_core::Error::Msg(
                    "relu BERT models are not supported".into(),
                ));
            }
        };
        Ok(Self {
            words: embedding("word_embeddings", config.vocab_size)?,
            positions: embedding("position_embeddings", config.max_position_embeddings)?,
            token_types: embedding("token_type_embeddings", config.type_vocab_size)?,
            embeddings_norm: Norm::load(vb.pp("embeddings.LayerNorm"), hidden, eps)?,
            layers,
            heads,
            head_size,
            exact_gelu,
        })
    }

    /// The last hidden states, `[batch, len, hidden]`, for token ids, type ids and the
    /// attention mask (1 for a real token, 0 for padding), each `[batch, len]`, u32.
    pub fn forward(&self, ids: &Tensor, types: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (batch, len) = ids.dims2()?;
        let hidden = self.heads * self.head_size;
        let positions = Tensor::arange(0u32, len as u32, ids.device())?;
        let x = self
            .words
            .forward(ids)?
            .broadcast_add(&self.positions.forward(&positions)?)?
            .add(&self.token_types.forward(types)?)?;
        let mut x = self
            .embeddings_norm
            .forward(&x)?
            .reshape((batch * len, hidden))?;
        // Padding keys get -∞ (a large negative number) before the softmax; a batch without
        // padding needs no mask at all.
        let padded = mask.min_all()?.to_scalar::<u32>()? == 0;
        let bias = if padded {
            let keep = mask.to_dtype(DType::F32)?.reshape((batch, 1, 1, len))?;
            Some(((keep - 1.0)? * 3.4e38f64)?)
        } else {
            None
        };
        for layer in &self.layers {
            x = self.layer(layer, &x, bias.as_ref(), batch, len)?;
        }
        x.reshape((batch, len, hidden))
    }

    fn layer(
        &self,
        layer: &Layer,
        x: &Tensor,
        bias: Option<&Tensor>,
        batch: usize,
        len: usize,
    ) -> Result<Tensor> {
        let (heads, head_size) = (self.heads, self.head_size);
        // [batch·len, 3·hidden] → three [batch, heads, len, head_size].
        let qkv = layer
            .qkv
            .forward(x)?
            .reshape((batch, len, 3, heads, head_size))?
            .permute((2, 0, 3, 1, 4))?
            .contiguous()?;
        let (q, k, v) = (qkv.get(0)?, qkv.get(1)?, qkv.get(2)?);
        let mut scores = q.matmul(&k.t()?)?;
        if let Some(bias) = bias {
            scores = scores.broadcast_add(bias)?;
        }
        let probabilities = candle_nn::ops::softmax_last_dim(&scores)?;
        let context = probabilities
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((batch * len, heads * head_size))?;
        let attended = layer
            .attention_norm
            .forward(&(layer.attention_out.forward(&context)? + x)?)?;
        let inner = layer.intermediate.forward(&attended)?;
        let inner = if self.exact_gelu {
            inner.apply_op1_no_bwd(&ExactGelu)?
        } else {
            inner.gelu()?
        };
        layer
            .output_norm
            .forward(&(layer.output.forward(&inner)? + attended)?)
    }
}

/// GELU with the error function, as BERT defines it, from an approximation of `erf`
/// (Abramowitz & Stegun 7.1.26: within 1.5·10⁻⁷, about 5·10⁻⁷ once computed in f32, a few
/// units in the last place of `1 + erf`) that is several times faster than candle's
/// `gelu_erf`, whose software `erff` took a tenth of a question's time. The embeddings still
/// match sentence-transformers' (`tests/reference.rs`).
struct ExactGelu;

impl candle_core::CustomOp1 for ExactGelu {
    fn name(&self) -> &'static str {
        "exact-gelu"
    }

    fn cpu_fwd(
        &self,
        storage: &candle_core::CpuStorage,
        layout: &candle_core::Layout,
    ) -> Result<(candle_core::CpuStorage, candle_core::Shape)> {
        let (candle_core::CpuStorage::F32(data), Some((start, end))) =
            (storage, layout.contiguous_offsets())
        else {
            candle_core::bail!("exact-gelu takes contiguous f32 tensors");
        };
        let out = data[start..end].iter().map(|&x| gelu(x)).collect();
        Ok((candle_core::CpuStorage::F32(out), layout.shape().clone()))
    }
}

fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

fn erf(x: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = ((((1.061_405_4 * t - 1.453_152_1) * t + 1.421_413_8) * t - 0.284_496_74) * t
        + 0.254_829_6)
        * t;
    (1.0 - poly * (-x * x).exp()).copysign(x)
}

/// The mean of the real tokens' vectors (`hidden`: `[batch, len, size]`, `mask`: `[batch, len]`).
pub fn mean_pool(hidden: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
    let counts = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?;
    summed.broadcast_div(&counts)
}

/// Unit-length rows.
pub fn normalise(x: &Tensor) -> Result<Tensor> {
    let norms = x
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .sqrt()?
        .clamp(1e-12f32, f32::MAX)?;
    x.broadcast_div(&norms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_erf_stays_within_a_millionth_of_libm() {
        let worst = (-60_000..=60_000)
            .map(|i| i as f32 / 10_000.0)
            .map(|x| (erf(x) - libm::erff(x)).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-6, "worst difference {worst}");
    }

    #[test]
    fn exact_gelu_matches_candles_on_a_tensor() {
        let values: Vec<f32> = (-400..=400).map(|i| i as f32 / 50.0).collect();
        let x = Tensor::new(values.as_slice(), &candle_core::Device::Cpu).unwrap();
        let ours: Vec<f32> = x.apply_op1_no_bwd(&ExactGelu).unwrap().to_vec1().unwrap();
        let candles: Vec<f32> = x.gelu_erf().unwrap().to_vec1().unwrap();
        for ((o, c), x) in ours.iter().zip(&candles).zip(&values) {
            assert!(
                (o - c).abs() <= 1e-6 * (1.0 + x.abs()),
                "gelu({x}): {o} vs {c}"
            );
        }
    }
}

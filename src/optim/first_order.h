// What the first-order optimizers (AdamW, SGD) share: one call for the loss and gradient, the gradient's
// norm over the trained subset, optional clipping, and the guard that keeps a non-finite gradient away
// from the parameters. The update rules themselves live in adamw.* and sgd.*.
#pragma once
#include <cstdint>
#include <span>

#include "optim/direction.h"
#include "optim/optimizer.h"

namespace nograd {

// √(Σ g_i²) over the entries of `ranges`, summed in double in a fixed order (blocks of 4096 within each
// range, then the blocks in order): the same bits for any thread count. Non-finite if any g_i is.
double gradient_norm(std::span<const float> grad, std::span<const IndexRange> ranges);

// Scales the entries of `ranges` by max_norm / norm when the norm exceeds max_norm (max_norm ≤ 0: never),
// as torch.nn.utils.clip_grad_norm_ does. Returns the norm before clipping; a non-finite norm is returned
// and nothing is scaled.
double clip_gradient_norm(std::span<float> grad, std::span<const IndexRange> ranges, double max_norm);

// The first half of every first-order step: objective.loss_and_gradient() once, then the norm check and
// clipping above. The report carries the loss, one forward and one backward pass, and fields["grad_norm"]
// (before clipping). A non-finite loss or gradient makes the report's loss NaN (fields["skipped_nonfinite"]):
// the caller must then update nothing, and the training loop treats the step as a divergence.
StepReport evaluate_gradient(Objective& objective, double max_grad_norm);
bool update_skipped(const StepReport& report);  // evaluate_gradient found a non-finite loss or gradient

// Does weight decay apply to trainable range r? Every range when decay_all is set, else
// objective.decays[r]. Throws nograd::Error when the mask is needed but does not match the ranges.
bool range_decays(const Objective& objective, size_t r, bool decay_all);

// Throws nograd::Error when an optimizer's subset-sized state does not match the objective's subset.
void check_state_size(const char* optimizer, size_t state_size, const Objective& objective);

}  // namespace nograd

// Learning-rate schedules: constant (the default), or linear warmup then cosine decay to a floor
// (Loshchilov & Hutter 2017, as GPT-2-style pretraining uses it).
#pragma once
#include <cmath>
#include <string>

namespace nograd {

struct LrSchedule {
    std::string kind = "constant";  // "constant" or "cosine"
    double lr = 0.0;                // peak learning rate
    long warmup_steps = 0;          // cosine only: linear ramp from lr/warmup to lr
    double final_fraction = 0.1;    // cosine only: the rate at the last step, as a fraction of lr
    long total_steps = 1;

    double at(long step) const {  // step numbered from 1
        if (kind == "constant") return lr;
        if (step <= warmup_steps) return lr * double(step) / double(warmup_steps);
        const double progress = double(step - warmup_steps) / double(std::max(1L, total_steps - warmup_steps));
        const double floor = lr * final_fraction;
        return floor + 0.5 * (lr - floor) * (1.0 + std::cos(M_PI * std::min(1.0, progress)));
    }
};

}  // namespace nograd

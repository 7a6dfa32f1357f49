// SIGINT/SIGTERM during training: the handler only sets a flag; the training loop checks it between
// steps, saves, and exits cleanly. The flag is the one piece of global state in nograd: a signal
// handler can reach nothing else.
#pragma once

namespace nograd {

void install_interrupt_handlers();
bool interrupt_requested();
void clear_interrupt();

}  // namespace nograd

// SIGINT/SIGTERM handling for long commands: the first signal asks the command to stop
// and write what it has; a second one of the same kind ends the process at once.
#pragma once

namespace inflight {

void InstallInterruptHandlers();
bool Interrupted();

}  // namespace inflight

// statecast's linearizability checker: a small program around Porcupine that reads a
// recorded key/value history (JSON) and says Ok, Illegal or Unknown, writing Porcupine's
// visualisation when a history fails (see ../../build.py and statecast.chaos.porcupine).
module statecast.io/devcluster/linearizability

go 1.26.0

require github.com/anishathalye/porcupine v1.3.1

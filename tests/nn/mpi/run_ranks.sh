#!/usr/bin/env bash
# CTest's nn_mpi_two_ranks: runs nn_mpi_check as 2 ranks of one mpirun job on this machine, over
# TCP on loopback (as ranks on two hosts would talk), one thread per rank. Exits 77 (skipped,
# saying why) when mpirun is missing. Usage: run_ranks.sh NN_MPI_CHECK [RANKS]
set -uo pipefail
check=${1:?usage: run_ranks.sh NN_MPI_CHECK [RANKS]}
ranks=${2:-2}
mpirun=${ETUDE_MPIRUN:-$(command -v mpirun || true)}
if [[ -z "$mpirun" || ! -x "$mpirun" ]]; then
  echo "SKIPPED: mpirun not found${ETUDE_MPIRUN:+ at $ETUDE_MPIRUN} (scripts/setup.sh installs openmpi-bin)"
  exit 77
fi
# Open MPI refuses root unless told (containers run tests as root).
if [[ $(id -u) -eq 0 ]]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
exec timeout 300 "$mpirun" -np "$ranks" --oversubscribe --bind-to none \
  --mca pml ob1 --mca btl self,tcp --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo \
  "$check"

// The gnuplot graphs; see plots.hpp. gnuplot runs as a child process on a script
// written next to the graphs; its output goes to temporary names, then atomically into place.
#include "train/plots.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cmath>
#include <cstdio>

#include "base/file_io.hpp"

extern char** environ;

namespace etude::train {
namespace {

std::string number(double v) { return history_number(v); }

// Runs `gnuplot script`; "" when it exited 0.
std::string run_gnuplot(const std::filesystem::path& script, const std::filesystem::path& log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::string s = script.string();
  char* argv[] = {const_cast<char*>("gnuplot"), s.data(), nullptr};
  posix_spawnattr_t attr;  // its own process group: a Ctrl-C meant for training does not kill it
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, "gnuplot", &fa, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return "gnuplot not found (install gnuplot-nox for the graphs); training goes on without them";
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) == 127)
    return "gnuplot could not run (install gnuplot-nox for the graphs); training goes on without them";
  if (WEXITSTATUS(status) != 0) return "gnuplot failed (see " + log.string() + "); training goes on without graphs";
  return "";
}

}  // namespace

std::string draw_plots(const std::filesystem::path& out, std::span<const EpochRow> rows, int checkpoint_every) {
  namespace fs = std::filesystem;
  const fs::path dir = out / "plots";
  std::error_code ec;
  fs::create_directories(dir, ec);
  // gnuplot reads a plain whitespace table: epoch, losses, accuracies, copy share (NaN = none).
  std::string data, marks;
  for (const EpochRow& r : rows) {
    data += std::to_string(r.epoch) + " " + number(r.train_loss) + " " + number(r.val_loss) + " " +
            number(r.train_accuracy) + " " + number(r.val_accuracy) + " " +
            (r.copied_share >= 0 ? number(r.copied_share) : "nan") + "\n";
    if (r.epoch % checkpoint_every == 0) marks.append(marks.empty() ? "" : " ").append(std::to_string(r.epoch));
  }
  const int last = rows.empty() ? 1 : rows.back().epoch;
  write_file_atomic(dir / ".history.dat", data);
  const std::string q = std::string("'").append((dir / ".history.dat").string()).append("'");
  const std::string style =
      "set datafile missing 'nan'\nset grid\nset key top right\nset xlabel 'epoch'\nset xrange [0:" +
      std::to_string(std::max(last, 2)) + "]\n";
  // lines for the curves; the checkpoint epochs as dashed verticals (drawn per frame in the GIF).
  const std::string loss_plot = "set title 'Loss (nats per token)'\nset ylabel 'loss'\nset yrange [*:*]\n"
                                "plot " + q + " using 1:($1<=E?$2:1/0) with lines lw 2 title 'train', " + q +
                                " using 1:($1<=E?$3:1/0) with linespoints pt 7 ps 0.5 lw 2 title 'validation'\n";
  const std::string acc_plot = "set title 'Top-1 accuracy and copied share of the checkpoint sample'\n"
                               "set ylabel 'share'\nset yrange [0:1]\n"
                               "plot " + q + " using 1:($1<=E?$4:1/0) with lines lw 2 title 'train accuracy', " + q +
                               " using 1:($1<=E?$5:1/0) with linespoints pt 7 ps 0.5 lw 2 title 'validation accuracy', " +
                               q + " using 1:($1<=E?$6:1/0) with points pt 5 ps 1.2 title 'copied 8-note runs'\n";
  const std::string arrows = "unset arrow\ndo for [c in CK] { if (c+0 <= E) { set arrow from c+0, graph 0 to c+0, "
                             "graph 1 nohead dt 2 lc rgb 'gray50' } }\n";
  const std::string tmp_loss = (dir / ".loss.png.tmp").string(), tmp_acc = (dir / ".accuracy.png.tmp").string(),
                    tmp_gif = (dir / ".training.gif.tmp").string();
  std::string script = "CK = '" + marks + "'\nE = " + std::to_string(last) + "\n" + style +
                       "set terminal pngcairo size 900,560 noenhanced\nset output '" + tmp_loss + "'\n" + arrows +
                       loss_plot + "set output '" + tmp_acc + "'\n" + arrows + acc_plot + "set output\n";
  // The animation: one frame per checkpoint (and the latest epoch), both graphs side by side.
  std::string frames = marks;
  if (last % checkpoint_every != 0) frames.append(frames.empty() ? "" : " ").append(std::to_string(last));
  script += "set terminal gif animate delay 80 loop 0 size 1200,450 noenhanced\nset output '" + tmp_gif + "'\n" +
            "do for [f in '" + frames + "'] {\n E = f+0\n set multiplot layout 1,2 title sprintf('epoch %d', E)\n" +
            arrows + loss_plot + arrows + acc_plot + " unset multiplot\n}\nset output\n";
  write_file_atomic(dir / ".plots.gp", script);
  const std::string why = run_gnuplot(dir / ".plots.gp", dir / ".gnuplot.log");
  if (!why.empty()) return why;
  for (const auto& [tmp, name] : {std::pair{tmp_loss, "loss.png"}, {tmp_acc, "accuracy.png"}, {tmp_gif, "training.gif"}}) {
    if (!fs::is_regular_file(tmp)) return "gnuplot wrote no " + std::string(name) + " (see " + (dir / ".gnuplot.log").string() + ")";
    write_file_atomic(dir / name, read_file_bytes(tmp));
    fs::remove(tmp, ec);
  }
  return "";
}

}  // namespace etude::train

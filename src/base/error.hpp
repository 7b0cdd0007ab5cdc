// Etude's error kinds: every failure is an exception that names the file, byte offset or tensor
// and hints at the fix. app/ turns them into one line on stderr and exit code 2.
#pragma once
#include <stdexcept>
#include <string>

namespace etude {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
  virtual const char* kind() const noexcept = 0;
};

// Malformed input data: a MIDI file, a model file, a corpus cache, a token stream.
class FormatError : public Error {
 public:
  using Error::Error;
  const char* kind() const noexcept override { return "format error"; }
};

// The filesystem refused: missing file, unwritable folder, short write.
class IoError : public Error {
 public:
  using Error::Error;
  const char* kind() const noexcept override { return "i/o error"; }
};

// A caller passed something that cannot work: bad shape, unknown preset, out-of-range option.
class InvalidArgument : public Error {
 public:
  using Error::Error;
  const char* kind() const noexcept override { return "invalid argument"; }
};

// A compute device failed or is missing (CUDA, cuDNN, oneDNN).
class DeviceError : public Error {
 public:
  using Error::Error;
  const char* kind() const noexcept override { return "device error"; }
};

}  // namespace etude

// The base model of a fine-tuning run and the run's first model; see fine_tune.hpp.
#include "train/fine_tune.hpp"

#include <algorithm>

#include "base/error.hpp"
#include "nn/model_io.hpp"

namespace etude::train {

BaseModel load_base_model(const std::filesystem::path& path) {
  nn::LoadedModel loaded = [&] {
    try {
      return nn::load_model(path);
    } catch (const Error& e) {
      throw FormatError(std::string("--from: ") + e.what());
    }
  }();
  BaseModel b{path, std::move(loaded.model), {}, {}};
  auto meta = [&](const char* key) -> nlohmann::json {
    auto it = loaded.metadata.find(key);
    if (it == loaded.metadata.end()) return nullptr;
    try {
      return nlohmann::json::parse(it->second);
    } catch (const nlohmann::json::exception&) {
      throw FormatError("--from " + path.string() + ": its " + key + " metadata is not valid JSON");
    }
  };
  b.tokenizer = meta(nn::kMetaTokenizer);
  if (!b.tokenizer.is_object())
    throw FormatError("--from " + path.string() + ": no tokenizer in the file (not a model written by etude train)");
  const nlohmann::json styles = meta(nn::kMetaStyles);
  if (styles.is_array())
    for (const auto& s : styles)
      if (s.is_string()) b.styles.push_back(s.get<std::string>());
  if (int(b.styles.size()) != b.model.spec().styles)
    throw FormatError("--from " + path.string() + ": its style table has " + std::to_string(b.model.spec().styles) +
                      " rows but etude.styles names " + std::to_string(b.styles.size()));
  return b;
}

nn::Model start_from_base(const BaseModel& base, const nn::ModelSpec& spec) {
  nn::Model m(spec);
  const nn::ParamLayout& from = base.model.layout();
  for (const nn::TensorSlot& t : m.layout().tensors) {
    const nn::TensorSlot* s = from.find(t.name);
    if (t.name == "style_embedding.weight") {
      const int D = spec.embed_dim, old_rows = s ? int(s->shape[0]) : 0;
      auto dst = m.tensor(t);
      std::vector<float> mean(size_t(D), 0.0f);
      if (s) {
        auto src = base.model.tensor(*s);
        std::copy(src.begin(), src.end(), dst.begin());
        for (int r = 0; r < old_rows; ++r)
          for (int d = 0; d < D; ++d) mean[size_t(d)] += src[size_t(r) * D + size_t(d)] / float(old_rows);
      }
      for (int r = old_rows; r < spec.styles; ++r) std::copy(mean.begin(), mean.end(), dst.begin() + size_t(r) * D);
      continue;
    }
    if (!s || s->shape != t.shape)
      throw InvalidArgument("--from " + base.path.string() + ": tensor " + t.name + " does not fit the run's model");
    auto src = base.model.tensor(*s);
    std::copy(src.begin(), src.end(), m.tensor(t).begin());
  }
  return m;
}

std::vector<std::pair<size_t, size_t>> style_row_ranges(const nn::Model& model, const std::vector<int>& rows) {
  const nn::ParamLayout& L = model.layout();
  if (L.style_slot == SIZE_MAX) throw InvalidArgument("--tune styles needs a model with a style table");
  const size_t base = L.tensors[L.style_slot].offset, D = size_t(model.spec().embed_dim);
  std::vector<std::pair<size_t, size_t>> out;
  for (int r : rows) out.emplace_back(base + size_t(r) * D, base + size_t(r + 1) * D);
  std::sort(out.begin(), out.end());  // keep_gradients walks them in order
  return out;
}

void keep_gradients(std::span<float> grads, const std::vector<std::pair<size_t, size_t>>& ranges) {
  size_t next = 0;  // ranges sorted (style_row_ranges sorts them): no allocation in the training step
  for (const auto& [b, e] : ranges) {
    std::fill(grads.begin() + long(std::min(next, b)), grads.begin() + long(b), 0.0f);
    next = std::max(next, e);
  }
  std::fill(grads.begin() + long(std::min(next, grads.size())), grads.end(), 0.0f);
}

}  // namespace etude::train

#include "models/summary.h"

#include <map>
#include <set>
#include <vector>

#include "autodiff/dsl.h"
#include "models/metadata.h"

namespace gradc {

namespace {
std::string keras_shape(const Shape& s, int64_t batch) {
  std::string out = "(";
  for (int i = 0; i < s.rank; ++i)
    out += (i ? ", " : "") + (i == 0 && s[0] == batch ? std::string("None") : std::to_string(s[i]));
  return out + ")";
}

struct Layer {
  std::string name;
  std::string type;           // a parameter-free layer's Keras type (MaxPooling2D, Flatten, ...)
  std::set<std::string> ops;  // activations and dropout seen in the layer
  int weight_rank = 0;
  int64_t params = 0;
  int last = -1;        // the node whose shape is the layer's output
  bool moving = false;  // holds moving statistics: a batch normalisation
};

std::string layer_type(const Layer& l) {
  if (!l.type.empty()) return l.type;
  if (l.moving) return "BatchNormalization";
  std::string t = l.weight_rank == 4 ? "Conv2D" : l.weight_rank == 2 ? "Dense" : "Layer";
  if (l.ops.count("tanh") && l.ops.count("square"))
    t += ", gelu";
  else
    for (const ActivationInfo& a : activations())
      if (a.op && l.ops.count(a.op)) t += std::string(", ") + a.name;
  return t;
}

// Ops Keras shows as layers of their own, without parameters: (Keras's auto name, type), or none.
std::pair<const char*, const char*> own_layer(const Graph& g, const Node& n) {
  switch (n.op) {
    case Op::MaxPool2d:
      return {"max_pooling2d", "MaxPooling2D"};
    case Op::AvgPool2d:
      return {"average_pooling2d", "AveragePooling2D"};
    case Op::Dropout:
      return {"dropout", "Dropout"};
    case Op::Reshape:  // a flatten: image-shaped in, [batch, features] out (batch norm's [rows, C] is not)
      if (g.node(n.in[0]).shape.rank > 2 && n.shape.rank == 2 && n.shape[0] == g.node(n.in[0]).shape[0])
        return {"flatten", "Flatten"};
      return {nullptr, nullptr};
    default:
      return {nullptr, nullptr};
  }
}
}  // namespace

std::string summary(const Graph& g) {
  std::vector<Layer> layers;
  std::map<std::string, size_t> index;
  std::vector<int> layer_of(g.size(), -1);
  int64_t batch = -1, state = 0, moving = 0;
  std::vector<const Node*> inputs;
  std::map<std::string, int> auto_names;  // Keras numbers repeats: dropout, dropout_1, ...
  for (const Node& n : g.nodes()) {
    int l = -1;
    if (n.op == Op::Input) {
      if (n.dtype == DType::F32 && n.shape.rank >= 2) {
        inputs.push_back(&n);
        if (batch < 0) batch = n.shape[0];
      }
    } else if (n.op == Op::Parameter) {
      if (n.role == Role::State) {
        state += n.shape.numel();
        continue;
      }
      if (n.role == Role::Moving) moving += n.shape.numel();  // in its layer's count, non-trainable
      const std::string name = n.name.substr(0, n.name.rfind('/'));
      if (!index.count(name)) index[name] = layers.size(), layers.push_back(Layer{name, "", {}, 0, 0, -1});
      l = static_cast<int>(index[name]);
      layers[static_cast<size_t>(l)].params += n.shape.numel();
      layers[static_cast<size_t>(l)].moving |= n.role == Role::Moving;
      layers[static_cast<size_t>(l)].weight_rank = std::max(layers[static_cast<size_t>(l)].weight_rank, n.shape.rank);
    } else if (const auto [base, type] = own_layer(g, n); base && n.role != Role::Grad) {
      const int k = auto_names[base]++;
      l = static_cast<int>(layers.size());
      layers.push_back(Layer{k ? std::string(base) + "_" + std::to_string(k) : base, type, {}, 0, 0, n.id});
    } else if (n.role != Role::Grad && op_info(n.op).kind != OpKind::Loss) {
      for (int in : n.in) l = std::max(l, layer_of[static_cast<size_t>(in)]);
      if (l >= 0) {  // the output: the last batch-shaped node (not a moving statistic's update)
        if (n.shape.rank >= 2 && n.shape[0] == batch) layers[static_cast<size_t>(l)].last = n.id;
        layers[static_cast<size_t>(l)].ops.insert(op_name(n.op));
      }
    }
    layer_of[static_cast<size_t>(n.id)] = l;
  }
  char line[160];
  std::string out = "Model: \"" + g.name + "\"\n";
  std::snprintf(line, sizeof line, "%-36s %-20s %12s\n", "Layer (type)", "Output Shape", "Param #");
  out += line + std::string(70, '=') + "\n";
  for (const Node* n : inputs) {
    std::snprintf(line, sizeof line, "%-36s %-20s %12s\n", (n->name + " (Input)").c_str(),
                  keras_shape(n->shape, batch).c_str(), "0");
    out += line;
  }
  int64_t total = 0;
  for (const Layer& l : layers) {
    total += l.params;
    const std::string shape = l.last >= 0 ? keras_shape(g.node(l.last).shape, batch) : "-";
    std::snprintf(line, sizeof line, "%-36s %-20s %12s\n", (l.name + " (" + layer_type(l) + ")").c_str(), shape.c_str(),
                  grouped(l.params).c_str());
    out += line;
  }
  out += std::string(70, '=') + "\n";
  out += "Total params: " + grouped(total) + "\nTrainable params: " + grouped(total - moving) + "\n";
  out += "Non-trainable params: " + grouped(moving) +
         (state ? " (optimizer state and EMA: " + grouped(state) + " values)" : "") + "\n";
  return out;
}

}  // namespace gradc

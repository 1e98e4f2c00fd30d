"""Tiny stand-ins for Wan 2.2 Animate's preprocessing ONNX files, in the real repo's folder layout.

    process_checkpoint/det/yolov10m.onnx                      "images" (1, 3, 640, 640) -> "output0" (1, 300, 6)
    process_checkpoint/pose2d/vitpose_h_wholebody.onnx/end2end.onnx   "input" (1, 3, 256, 192) ->
                                                              "output" (1, 133, 64, 48), weights as external files

Built with the `onnx` package (needed only to build these for the offline smoke mode). The
detector reports one confident person box that shifts a little with the picture's colours; the pose model's
heatmaps are a random 1x1 convolution of the downsampled picture through a sigmoid, so every keypoint has a
peak above the 0.5 drawing threshold and lands where the picture's colours put it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipelines.wholebody import DETECTOR_FILE, POSE_GRAPH

DETECTIONS = 300


def checkpoints(path: Path) -> None:
    detector_path, pose_path = path / DETECTOR_FILE, path / POSE_GRAPH
    detector_path.parent.mkdir(parents=True, exist_ok=True)
    pose_path.parent.mkdir(parents=True, exist_ok=True)
    _detector(detector_path)
    _pose(pose_path)


def _model(graph):
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="video-studio")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _detector(path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weight = np.zeros((3, DETECTIONS * 6), np.float32)
    bias = np.zeros((DETECTIONS, 6), np.float32)
    bias[:, 4] = -1.0                                        # every other row scores below the 0.05 threshold
    bias[0] = [150.0, 60.0, 490.0, 610.0, 0.9, 0.0]          # one person (class 0) in the middle, 640-px units
    weight[:, :4] = rng.uniform(-20, 20, (3, 4))             # the box moves a little with the picture's colours
    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["images"], ["pooled"]),
         helper.make_node("Reshape", ["pooled", "flat_shape"], ["flat"]),
         helper.make_node("MatMul", ["flat", "det.weight"], ["mixed"]),
         helper.make_node("Reshape", ["mixed", "out_shape"], ["rows"]),
         helper.make_node("Add", ["rows", "det.bias"], ["output0"])],
        "tiny_yolov10",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 640, 640])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, DETECTIONS, 6])],
        [numpy_helper.from_array(weight, "det.weight"), numpy_helper.from_array(bias[None], "det.bias"),
         numpy_helper.from_array(np.array([1, 3], np.int64), "flat_shape"),
         numpy_helper.from_array(np.array([1, DETECTIONS, 6], np.int64), "out_shape")])
    onnx.save_model(_model(graph), str(path))


def _pose(path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    weight = rng.uniform(-1, 1, (133, 3, 1, 1)).astype(np.float32)
    bias = np.full(133, 0.5, np.float32)
    graph = helper.make_graph(
        [helper.make_node("AveragePool", ["input"], ["pooled"], kernel_shape=[4, 4], strides=[4, 4]),
         helper.make_node("Conv", ["pooled", "keypoint_head.final_layer.weight", "keypoint_head.final_layer.bias"],
                          ["logits"]),
         helper.make_node("Sigmoid", ["logits"], ["output"])],
        "tiny_vitpose_wholebody",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 256, 192])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 133, 64, 48])],
        [numpy_helper.from_array(weight, "keypoint_head.final_layer.weight"),
         numpy_helper.from_array(bias, "keypoint_head.final_layer.bias")])
    # The real graph keeps every weight in its own file beside end2end.onnx, named after the tensor.
    onnx.save_model(_model(graph), str(path), save_as_external_data=True, all_tensors_to_one_file=False,
                    size_threshold=0)

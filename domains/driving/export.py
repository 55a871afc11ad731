"""SavedModel export with decoding and per-class NMS inside the serving signatures."""

from __future__ import annotations

from pathlib import Path


def export_saved_model(task, path) -> Path:
    """Writes a SavedModel with two signatures.

    - ``serving_default``: ``images`` uint8 ``(B, H, W, 3)`` at the task's input size →
      ``boxes`` ``(B, K, 4)`` xyxy input pixels, ``scores``, ``classes`` (int32 indices into
      ``class_names``), ``num_detections``.
    - ``detect_image``: one uint8 image of any size → the same outputs in that image's pixels
      (letterboxing inside).

    The task's NMS settings are baked in; ``class_names`` is saved as an asset-free constant.
    """
    import tensorflow as tf

    from domains.driving.data import letterbox_image
    from domains.driving.model import postprocess

    h, w = task.input_size
    model, anchors, nms = task, task.anchors, task.nms

    class Serving(tf.Module):
        def __init__(self):
            super().__init__()
            self.model = model
            self.class_names = tf.constant(task.class_names)

        @tf.function(input_signature=[tf.TensorSpec([None, h, w, 3], tf.uint8, name="images")])
        def serve(self, images):
            raw = self.model(tf.cast(images, tf.float32), training=False)
            return postprocess(raw, anchors, (h, w), nms)

        @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.uint8, name="image")])
        def detect_image(self, image):
            canvas, scale, _ = letterbox_image(tf.cast(image, tf.float32), (h, w))
            out = postprocess(self.model(canvas[None], training=False), anchors, (h, w), nms)
            size = tf.cast(tf.shape(image), tf.float32)
            boxes = tf.clip_by_value(out["boxes"] / scale, 0.0, tf.stack([size[1], size[0], size[1], size[0]]))
            return {**out, "boxes": boxes}

    module = Serving()
    path = Path(path).expanduser()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve,
                                                      "detect_image": module.detect_image})
    return path

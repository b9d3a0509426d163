import * as tf from '@tensorflow/tfjs';
import type { FineTuneBatch } from '../fine-tune.js';

/** Settings of a distillation loss. */
export interface DistillationSettings {
  /** Softmax temperature T (> 0). */
  temperature: number;
  /** Weight α of the soft (teacher) term; 1 − α weighs the labels. */
  alpha: number;
}

/**
 * The knowledge-distillation loss of Hinton, Vinyals & Dean (2015) for a student whose output is
 * softmax probabilities: `α·T²·KL(q_teacher ‖ q_student) + (1 − α)·CE(labels, p_student)` with
 * `q = softmax(z / T)`. Both models end in a softmax, so their logits are recovered as `log p`
 * (equal to z up to a per-row constant, which softmax ignores). The teacher runs in inference mode
 * and is never trained.
 *
 * @example
 * await fineTune({ model: student, loss: distillationLoss(teacher, { temperature: 4, alpha: 0.9 }), … });
 */
export function distillationLoss(
  teacher: tf.LayersModel,
  settings: DistillationSettings,
): (output: tf.Tensor, batch: FineTuneBatch) => tf.Scalar {
  const { temperature: t, alpha } = settings;
  return (output, batch) =>
    tf.tidy(() => {
      // The batch is shaped for the student; the teacher takes the same features in its own shape.
      const teacherProbs = teacher.predict(
        tf.reshape(batch.x, [-1, ...(teacher.inputs[0]!.shape.slice(1) as number[])]),
      ) as tf.Tensor;
      const softTeacher = tf.softmax(tf.div(tf.log(tf.clipByValue(teacherProbs, 1e-7, 1)), t));
      const logStudent = tf.log(tf.clipByValue(output, 1e-7, 1));
      const logSoftStudent = tf.logSoftmax(tf.div(logStudent, t));
      const kl = tf.mean(
        tf.sum(tf.mul(softTeacher, tf.sub(tf.log(tf.clipByValue(softTeacher, 1e-12, 1)), logSoftStudent)), -1),
      );
      const ce = tf.neg(tf.mean(tf.sum(tf.mul(batch.y, logStudent), -1)));
      return tf.add(tf.mul(alpha * t * t, kl), tf.mul(1 - alpha, ce)) as tf.Scalar;
    });
}

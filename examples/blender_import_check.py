"""Check that BVH files written by posemoe import into Blender and keep their forward kinematics.

For each BVH file: reset Blender to an empty factory scene, import the file with
``bpy.ops.import_anim.bvh`` and compare, at 5 frames spread over the clip, the world position of
every pose bone's head (``armature.matrix_world @ pbone.head``; and the tail of each bone that
ends in an End Site) with the same point computed independently here: a small BVH parser and
forward kinematics (rotation channels in the listed order about the joint's own rotated axes,
position channels replacing the OFFSET's component), then the same scale and axis change as the
import. Prints frames, bones and the max/mean difference in millimetres per file; exits 1 when a
file differs by 1 mm or more, or its bone or frame count changed.

Import settings: ``global_scale=0.01`` (posemoe writes centimetres; Blender works in metres) and
``axis_forward="-Z", axis_up="Y"``: the file's world is Y-up with the people facing +Z (toward
the video camera), so file (x, y, z) becomes Blender (x, -z, y): up is Blender's +Z, the people
face -Y (they look at Blender's Front view), the video camera's right stays +X.

``--png OUT.png`` also imports all files into one scene and renders a frame (Workbench engine,
640x480) of the skeletons as tubes over a floor; a ``NAME.trc`` beside ``NAME.bvh`` (posemoe
writes one) gives the track's first video frame so several people line up in time.

Needs Blender as a Python module, not posemoe (Python 3.11: ``pip install bpy numpy`` in its
own virtual environment):

    /tmp/bpyenv/bin/python examples/blender_import_check.py /tmp/show/*.bvh --png /tmp/show/bvh.png
"""
import argparse
import sys
from pathlib import Path

import bpy
import numpy as np
from bpy_extras.io_utils import axis_conversion
from bpy_extras.object_utils import world_to_camera_view
from mathutils import Vector

SCALE = 0.01                                        # centimetres -> metres
AXES = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], float)   # file Y-up -> Blender Z-up


def parse_bvh(path):
    """(joints, motion, frame_time); a joint is dict(name, parent, offset, channels, end)."""
    tokens = Path(path).read_text().split()
    joints, stack, i = [], [], 0
    while tokens[i] != "MOTION":
        t = tokens[i]
        if t in ("ROOT", "JOINT", "End"):
            end = t == "End"
            name = (joints[stack[-1]]["name"] + "/End") if end else tokens[i + 1]
            joints.append(dict(name=name, parent=stack[-1] if stack else -1, end=end,
                               offset=np.zeros(3), channels=[]))
            i += 2
        elif t == "{":
            stack.append(len(joints) - 1); i += 1
        elif t == "}":
            stack.pop(); i += 1
        elif t == "OFFSET":
            joints[stack[-1]]["offset"] = np.array(tokens[i + 1:i + 4], float); i += 4
        elif t == "CHANNELS":
            n = int(tokens[i + 1])
            joints[stack[-1]]["channels"] = tokens[i + 2:i + 2 + n]; i += 2 + n
        else:
            i += 1                                  # HIERARCHY
    n_frames = int(tokens[i + 2])                   # MOTION Frames: N Frame Time: T
    frame_time = float(tokens[i + 5])
    motion = np.array(tokens[i + 6:], float).reshape(n_frames, -1)
    return joints, motion, frame_time


def axis_rotation(axis, deg):
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    a, b = {"X": (1, 2), "Y": (2, 0), "Z": (0, 1)}[axis]
    r = np.eye(3)
    r[a, a], r[a, b], r[b, a], r[b, b] = c, -s, s, c
    return r


def forward_kinematics(joints, row):
    """World positions (J, 3) of every joint and End Site for one motion row, file units."""
    pos, rot, k = np.zeros((len(joints), 3)), np.zeros((len(joints), 3, 3)), 0
    for j, joint in enumerate(joints):
        local, r = joint["offset"].copy(), np.eye(3)
        for ch in joint["channels"]:
            if ch.endswith("position"):
                local["XYZ".index(ch[0])] = row[k]
            else:
                r = r @ axis_rotation(ch[0], row[k])
            k += 1
        p = joint["parent"]
        pos[j] = local if p < 0 else pos[p] + rot[p] @ local
        rot[j] = r if p < 0 else rot[p] @ r
    return pos


def reset_scene():
    bpy.ops.wm.read_factory_settings(use_empty=True)


def import_bvh(path, frame_start=1):
    bpy.ops.import_anim.bvh(filepath=str(path), global_scale=SCALE, axis_forward="-Z",
                            axis_up="Y", frame_start=frame_start, rotate_mode="NATIVE")
    return bpy.context.view_layer.objects.active


def check(path):
    joints, motion, frame_time = parse_bvh(path)
    reset_scene()
    arm = import_bvh(path)
    action = arm.animation_data.action
    first, last = (int(round(f)) for f in action.frame_range)
    pbones = arm.pose.bones
    frames = sorted(set(np.linspace(0, len(motion) - 1, 5).round().astype(int)))
    diffs = []
    for f in frames:
        bpy.context.scene.frame_set(first + f)
        mine = forward_kinematics(joints, motion[f]) * SCALE @ AXES.T
        for j, joint in enumerate(joints):
            if joint["end"]:                        # End Site: the tail of its parent bone
                theirs = arm.matrix_world @ pbones[joints[joint["parent"]]["name"]].tail
            else:
                theirs = arm.matrix_world @ pbones[joint["name"]].head
            diffs.append(np.linalg.norm(np.array(theirs) - mine[j]) * 1000)
    diffs = np.array(diffs)
    n_bones = sum(not j["end"] for j in joints)
    print(f"{path}: {len(motion)} frames ({1 / frame_time:.2f} fps), Blender frames "
          f"{first}-{last}, {len(pbones)} bones ({n_bones} joints in the file), checked frames "
          f"{[int(f) for f in frames]} x {len(joints)} points: difference max "
          f"{diffs.max():.4f} mm, mean {diffs.mean():.4f} mm")
    return len(pbones) == n_bones and last - first + 1 == len(motion), diffs.max()


def trc_first_frame(bvh_path):
    """1-based video frame of the track's first row, from posemoe's TRC beside the BVH (else 1)."""
    trc = Path(bvh_path).with_suffix(".trc")
    rows = trc.read_text().splitlines()[5:] if trc.exists() else []
    return next((int(r.split("\t")[0]) for r in rows if r.split("\t")[0].isdigit()), 1)


def render(paths, png):
    reset_scene()
    scene = bpy.context.scene
    starts = [trc_first_frame(p) for p in paths]
    arms = [import_bvh(p, s) for p, s in zip(paths, starts)]
    ends = [s + len(parse_bvh(p)[1]) - 1 for p, s in zip(paths, starts)]
    # a frame that the most tracks share (the middle one of those frames)
    counts = {f: sum(s <= f <= e for s, e in zip(starts, ends))
              for f in range(min(starts), max(ends) + 1)}
    shown = [f for f, c in counts.items() if c == max(counts.values())]
    frame = shown[len(shown) // 2]
    scene.frame_set(frame)
    colours = [(0.9, 0.3, 0.2), (0.2, 0.5, 0.9), (0.2, 0.75, 0.3), (0.9, 0.7, 0.1), (0.6, 0.3, 0.8)]
    points = []
    for n, (arm, s, e) in enumerate(zip(arms, starts, ends)):
        if not s <= frame <= e:
            continue
        curve = bpy.data.curves.new(f"bones{n}", "CURVE")
        curve.dimensions, curve.bevel_depth = "3D", 0.025
        for pb in arm.pose.bones:
            segs = [(pb.parent.head, pb.head)] if pb.parent else []
            if not pb.children:
                segs.append((pb.head, pb.tail))
            for a, b in segs:
                spline = curve.splines.new("POLY")
                spline.points.add(1)
                for pt, v in zip(spline.points, (a, b)):
                    w = arm.matrix_world @ v
                    pt.co = (*w, 1)
                    points.append(w)
        ob = bpy.data.objects.new(f"skeleton{n}", curve)
        ob.color = (*colours[n % len(colours)], 1)
        scene.collection.objects.link(ob)
    pts = np.array(points)
    lo, hi = pts.min(0), pts.max(0)
    centre, size = (lo + hi) / 2, max(hi[0] - lo[0], hi[1] - lo[1], 2.0)
    bpy.ops.mesh.primitive_plane_add(size=1, location=(centre[0], centre[1], 0))
    bpy.context.object.scale = (size * 1.6, size * 1.6, 1)
    bpy.context.object.color = (0.8, 0.8, 0.8, 1)
    scene.render.resolution_x, scene.render.resolution_y = 640, 480
    cam = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    scene.collection.objects.link(cam)
    scene.camera = cam
    view = Vector((0, -0.8, 0.6))                   # from the front (the video camera side), above
    for dist in np.geomspace(2, 200, 60):           # the nearest distance that shows every joint
        cam.location = Vector(centre) + float(dist) * view
        cam.rotation_euler = (-view).to_track_quat("-Z", "Y").to_euler()
        bpy.context.view_layer.update()
        uv = np.array([world_to_camera_view(scene, cam, Vector(p))[:2] for p in pts])
        if uv.min() > 0.05 and uv.max() < 0.95:
            break
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.display.shading.color_type = "OBJECT"
    scene.display.shading.show_shadows = True
    scene.render.image_settings.color_mode = "RGB"
    scene.render.image_settings.compression = 100
    scene.render.dither_intensity = 0              # no noise: a much smaller PNG
    scene.render.filepath = str(png)
    bpy.ops.render.render(write_still=True)
    print(f"rendered frame {frame} (video frame {frame - 1}): {max(counts.values())} of "
          f"{len(arms)} skeletons -> {png}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bvh", nargs="+", type=Path)
    ap.add_argument("--png", type=Path, help="also render one frame of all files to this PNG")
    args = ap.parse_args(sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else None)
    # the axis change above is the one Blender's importer uses for these settings
    blender = np.array(axis_conversion(from_forward="-Z", from_up="Y"))
    assert np.allclose(blender, AXES), blender
    results = [check(p) for p in args.bvh]
    if args.png:
        render(args.bvh, args.png)
    ok = all(good and worst < 1.0 for good, worst in results)
    print("all files match (within 1 mm)" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

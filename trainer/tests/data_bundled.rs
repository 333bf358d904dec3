//! The bundled real-MNIST fixture and the Fashion-MNIST package load with their documented shapes.

use gmvae_trainer::data::{
    bundled_dir, load, DatasetSpec, FASHION_MNIST_CLASSES, FASHION_MNIST_DIR,
};
use std::path::Path;

#[test]
fn bundled_fixture_has_9000_train_and_1000_test_with_every_digit() {
    assert!(bundled_dir().is_dir(), "{}", bundled_dir().display());
    let split = load(&DatasetSpec::Bundled).unwrap();
    assert_eq!(split.name, "mnist-10k");
    assert_eq!((split.train.len(), split.test.len()), (9000, 1000));
    for part in [&split.train, &split.test] {
        assert_eq!(part.num_classes(), 10);
        assert_eq!(part.class_names[3], "3");
        assert_eq!(
            (part.shape.channels, part.shape.height, part.shape.width),
            (1, 28, 28)
        );
        assert_eq!(part.images.dim(), (part.len(), 784));
        assert!(part.images.iter().all(|v| (0.0..=1.0).contains(v)));
    }
    assert_eq!(
        split.train.class_counts(),
        [901, 1014, 892, 929, 882, 777, 912, 963, 850, 880]
    );
    assert_eq!(
        split.test.class_counts(),
        [100, 113, 99, 103, 98, 86, 102, 107, 94, 98]
    );
    // Real digits: mostly dark background with some bright strokes.
    let mean = split.test.images.mean().unwrap();
    assert!((0.08..0.2).contains(&mean), "mean pixel {mean}");
}

#[test]
#[ignore = "needs Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist)"]
fn fashion_mnist_loads_with_its_documented_shape() {
    assert!(Path::new(FASHION_MNIST_DIR).is_dir(), "{FASHION_MNIST_DIR}");
    let split = load(&DatasetSpec::FashionMnist).unwrap();
    assert_eq!((split.train.len(), split.test.len()), (60_000, 10_000));
    assert_eq!(split.train.class_names, FASHION_MNIST_CLASSES);
    assert_eq!(split.test.class_counts(), vec![1000; 10]);
}

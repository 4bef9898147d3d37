"""A tenant's orders: a user buying a product."""

from django.db import models


class Order(models.Model):
    user = models.ForeignKey("users.User", on_delete=models.PROTECT)
    product = models.ForeignKey("products.Product", on_delete=models.PROTECT)
    quantity = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
